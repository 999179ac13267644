"""Thin adapters from frameworks' own hooks and callbacks onto `Run.phase_enter/phase_exit`.

Each module imports its framework when imported itself, never from `import mlfootprint`:
    from mlfootprint.integrations.torch import instrument          # plain PyTorch loops
    from mlfootprint.integrations.keras import MlfootprintCallback  # Keras 3
    from mlfootprint.integrations.huggingface import MlfootprintCallback
    from mlfootprint.integrations.lightning import MlfootprintCallback
"""
