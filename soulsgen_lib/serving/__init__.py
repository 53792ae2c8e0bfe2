"""The serving stage: package a model for TorchServe, run TorchServe locally, and talk to it.

`client` (inference) and `manage` (versions, deploy) need only `requests`; `package` and
`server` drive torch-model-archiver and TorchServe; `handler` runs inside TorchServe (the MAR's handler).
"""
