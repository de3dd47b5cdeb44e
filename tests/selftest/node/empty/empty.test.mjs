// A test file that defines no test: node lists the file itself as one passing test.
