"""FC-HarDNet ONNX models (float and int8 QDQ) and the code that builds them."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent


def model_path(name: str = "hardnet70", kind: str = "int8") -> Path:
    """Committed model file, e.g. model_path("tiny", "int8") -> onnx_models/tiny_int8.onnx."""
    path = MODELS_DIR / f"{name}_{kind}.onnx"
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.onnx")))
        raise FileNotFoundError(f"no model {path.name} in {MODELS_DIR} (have: {have}); run `nox -s models`")
    return path
