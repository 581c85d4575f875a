"""A local SageMaker behind moto: training, batch transform and endpoints run the real container here.

`python -m local_sagemaker -p PORT` starts moto (in server mode) with this package's hooks: Step
Functions executes state machines, its SageMaker `.sync` integrations wait for jobs that run
`container/entrypoint.py train|serve` on this machine, with data from moto's S3. What is not
emulated is listed in `local_sagemaker.not_emulated.NOT_EMULATED` (docs/demo.md shows it).
"""
