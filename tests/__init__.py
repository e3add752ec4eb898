"""The test suite is a package so that ``tests/gateway`` never shadows the ``gateway`` package.

Without it pytest's default import mode puts ``tests/`` first on ``sys.path`` and ``import
gateway`` finds the test folder whenever the project is not installed in editable mode (a
plain ``pip install -r requirements.lock``).
"""
