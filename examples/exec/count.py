#!/usr/bin/env python3
# The tutorial's first program: counts to ten, a number every half second. Each line it
# prints is one WebSocket message (flush, or Python would hold the lines back).
import time

for i in range(1, 11):
    print(i, flush=True)
    time.sleep(0.5)
