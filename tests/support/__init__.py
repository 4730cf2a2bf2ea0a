"""Test support for dojo.kafka_observability: harness code and stand-ins. Never shipped as product."""
