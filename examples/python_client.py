"""The seed guide's client example, with the installable client (clients/python)."""

import os

from temporal_gateway_client import TemporalAPIClient

client = TemporalAPIClient(os.environ.get("API_URL", "http://localhost:8000"))

# Synchronous
result = client.trigger_shopping_workflow_sync([
    {"fruit": "APPLE", "amount": 5}
])
print(result['result'])

# Asynchronous
workflow = client.trigger_shopping_workflow_async([
    {"fruit": "BANANA", "amount": 3}
])

# Wait for result
final_result = client.wait_for_workflow(workflow['workflow_id'])
print(final_result['result'])
