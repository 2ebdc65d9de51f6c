import subprocess
import sys


def test_import_skadv_does_not_import_torch():
    code = (
        "import sys, skadv, skadv.metrics, skadv.model_selection, skadv.datasets, skadv.mf, "
        "skadv.attacks; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
