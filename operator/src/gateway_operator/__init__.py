"""The temporal-gateway operator (never importable as ``operator``, which is the standard
library's): it reconciles WorkflowRoute custom resources into the API's route table."""
