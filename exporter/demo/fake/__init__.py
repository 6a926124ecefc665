"""The fake Clean Rooms: the operations moto lacks, each answer checked against botocore's model.

Only ``exporter.demo`` imports it (an import-linter contract); the tests and benches use
it as a stand-in for AWS.
"""
