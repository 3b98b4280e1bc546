"""The local cloud: DynamoDB Local, moto's server, and a runner that serves the Chalice app and
fires its scheduled and queued handlers, the same handler code Lambda runs."""
