"""The SageMaker container contract: paths, configuration, training driver, failure file, HTTP server.

Nothing in this package knows which algorithm runs; the algorithm implements `protocol.Algorithm`.
"""
