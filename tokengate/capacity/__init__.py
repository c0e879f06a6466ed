"""The capacity plan behind ``tokengate capacity`` and docs/scaling.md.

- :mod:`~tokengate.capacity.model`: the model, pure functions of a workload, prices and quotas;
- :mod:`~tokengate.capacity.render`: a plan as a text table or JSON;
- :mod:`~tokengate.capacity.scaling_doc`: docs/scaling.md, every figure in it computed by the model
  (``python -m tokengate.capacity.scaling_doc`` rewrites it; a test checks the committed copy).
"""
