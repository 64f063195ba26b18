#!/usr/bin/env python3
"""Sends signed deliveries at a fixed rate (make bench-webhook), then reads back how long each took
from acceptance to being applied. Usage: paced.py BASE_URL SECRET RATE SECONDS"""
import hashlib
import hmac
import http.client
import json
import statistics
import sys
import time
import urllib.parse

base, secret, rate, seconds = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3]), float(sys.argv[4])
url = urllib.parse.urlparse(base)
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
total = int(rate * seconds)
start = time.monotonic()
refused = 0
for n in range(total):
    target = start + n / rate
    delay = target - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    person = {"id": f"hr-{n % 500}", "name": f"Paced {n}", "email": "p@x", "age": 30, "status": "WORKING",
              "bio": "b" * 200, "department": {"id": "hr", "name": "Human Resources"}}
    body = json.dumps({"action": "upsert", "person": person}).encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    connection.request("POST", "/integration/webhook", body, {"X-Hub-Signature-256": signature, "Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    if response.status != 202:
        refused += 1
elapsed = time.monotonic() - start
time.sleep(1.0)  # let the last ones apply
connection.request("GET", "/webhooks/deliveries?status=done&limit=500")
deliveries = json.loads(connection.getresponse().read())["deliveries"]
latencies = sorted((d["appliedAt"] - d["acceptedAt"]) * 1000 for d in deliveries if d["appliedAt"])
def percentile(p):
    return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]
print(f"sent {total} at {total / elapsed:.0f}/s ({refused} refused); accept-to-applied over the last {len(latencies)}: "
      f"p50 {percentile(50):.1f} ms, p99 {percentile(99):.1f} ms, max {latencies[-1]:.1f} ms, mean {statistics.mean(latencies):.1f} ms")
