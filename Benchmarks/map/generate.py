#!/usr/bin/env python3
"""Writes N deterministic records of about 1 KB as NDJSON (make bench-map's input)."""
import json
import sys

count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
out = sys.stdout
statuses = ["active", "active", "active", "active", "active", "active", "active", "active", "active", "archived"]
words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore".split()
for n in range(count):
    bio = " ".join(words[(n + i) % len(words)] for i in range(120))[:760]
    record = {
        "id": f"svc-{n}",
        "name": f"Service {n}",
        "status": statuses[n % 10],
        "owner": {"email": f"owner{n % 97}@example.com", "team": f"team-{n % 13}"},
        "language": ["swift", "go", "python", "rust"][n % 4],
        "stars": n % 5000,
        "createdAt": 1_600_000_000 + n * 37,
        "tags": [f"t{n % 7}", f"t{n % 11}", f"t{n % 13}"],
        "url": f"https://git.example.com/org/service-{n}",
        "description": bio,
    }
    out.write(json.dumps(record, separators=(",", ":")))
    out.write("\n")
