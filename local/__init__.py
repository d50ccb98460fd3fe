"""The service on one machine: AWS resources from `template.yaml` in an emulator, and a poller."""
