// The seed guide's JavaScript example (Node 18+ has fetch). Run: node examples/javascript_fetch.mjs
const API_URL = process.env.API_URL ?? 'http://localhost:8000';

// Trigger workflow
const response = await fetch(`${API_URL}/workflows/shopping`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({
    items: [
      { fruit: 'APPLE', amount: 5 },
      { fruit: 'BANANA', amount: 3 }
    ]
  })
});
const result = await response.json();
console.log('Workflow ID:', result.workflow_id);
console.log('Result:', result.result);
