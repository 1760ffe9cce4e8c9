"""The SageMaker Python SDK v2 corpus (tests/sagemaker_v2/): public AWS example notebooks
transcribed with only their imports and their data changed, each run end to end in-process on
the session's Ray. tests/sagemaker_v2/README.md lists the files, their source notebooks and
what changed.

Each example runs with ``runpy.run_path`` in a fresh working directory (``tmp_path``) holding
a copy of the files its notebook folder has (``code/<example>/``: entry points, ``code/``,
``utils/``), so relative paths such as ``entry_point="abalone.py"`` or ``source_dir="code"``
resolve as they do next to the notebook, and that folder is on ``sys.path`` as a notebook
kernel's is (``from utils.mnist import ...``). ``s3://`` goes to the session's loopback moto S3
server (``ray_session`` sets ``AWS_ENDPOINT_URL`` before Ray starts); the examples' own
``sagemaker.Session().default_bucket()`` creates its bucket there, as v2 creates
``sagemaker-<region>-<account>``. Examples delete their endpoints in their own cleanup cells;
one that fails part-way leaves them, so the runner deletes whatever endpoint the example
created and did not delete (they would hold the 2 CPUs the next example needs).
"""

from __future__ import annotations

import runpy
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).parent / "sagemaker_v2"
EXAMPLES = sorted(p for p in CORPUS.glob("*.py") if not p.name.startswith("_"))


def _endpoints() -> set[str]:
    from mlcore.services import endpoints

    return {d["EndpointName"] for d in endpoints.list_endpoints()}


def test_corpus_is_indexed():
    """Every transcription names its source notebook and is listed in the README."""
    readme = (CORPUS / "README.md").read_text()
    assert len(EXAMPLES) >= 12, [p.name for p in EXAMPLES]
    for path in EXAMPLES:
        doc = path.read_text().split('"""')[1]
        assert "amazon-sagemaker-examples" in doc and ".ipynb" in doc, path.name
        assert f"`{path.name}`" in readme, f"{path.name} is not in tests/sagemaker_v2/README.md"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example(example: Path, ray_session, tmp_path, monkeypatch, capsys):
    files = CORPUS / "code" / example.stem
    if files.is_dir():
        shutil.copytree(files, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a notebook kernel imports from its folder
    before = _endpoints()
    started = time.perf_counter()
    try:
        runpy.run_path(str(example), run_name="__main__")
    finally:
        elapsed = time.perf_counter() - started
        left = _endpoints() - before
        for name in sorted(left):
            from mlcore.services import endpoints

            endpoints.delete(name)
        with capsys.disabled():
            print(f"\n[sagemaker_v2] {example.name}: {elapsed:.1f}s"
                  + (f"; deleted endpoints it left: {sorted(left)}" if left else ""))
    assert not left, f"{example.name} left endpoints behind: {sorted(left)}"


def test_readme_python_example_is_a_corpus_file():
    """The README's SageMaker v2 example is cells of a corpus transcription, verbatim, so CI
    runs exactly what the README shows."""
    readme = (CORPUS.parent.parent / "README.md").read_text()
    section = readme[readme.index("**Python, with SageMaker v2 names.**"):]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert block.strip() and block in (CORPUS / "xgboost_customer_churn.py").read_text()
