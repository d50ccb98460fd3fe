"""The functions CodeDeploy runs while the API's new version is deployed, to judge it.

Each is a Lambda function of its own (template.yaml), outside `app/`: it calls the new version
as API Gateway would, through Lambda's Invoke, and never imports the web framework or the
app's code beyond the events it sends (`app.entrypoints.events`, which imports only `json` and
`urllib.parse`);
`make test` checks it (the import contracts in pyproject.toml).
"""
