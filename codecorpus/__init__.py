"""codecorpus: Apache Beam pipelines that turn public code history into fine-tuning corpora."""

__version__ = "0.1.0"
