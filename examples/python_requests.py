"""The seed guide's Python example, with plain `requests`."""

import os

import requests

API_URL = os.environ.get("API_URL", "http://localhost:8000")

# Trigger workflow
response = requests.post(
    f"{API_URL}/workflows/shopping",
    json={
        "items": [
            {"fruit": "APPLE", "amount": 5},
            {"fruit": "BANANA", "amount": 3}
        ]
    },
    timeout=60,
)
result = response.json()
print(f"Workflow ID: {result['workflow_id']}")
print(f"Result: {result['result']}")
