// A file that throws while it loads, before any test is defined.
throw new Error("deliberate failure at import");
