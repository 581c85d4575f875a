"""moto's server with the inference component API of the local SageMaker (local_sagemaker/components.py) and
nothing else of it: no container runs. The deployment tests (tests/emulator) deploy every environment into it, so
that an environment hosting an inference component deploys as the others do."""

from __future__ import annotations

from moto.server import main

from local_sagemaker import components

if __name__ == "__main__":
    components.install(components.Components())
    main()
