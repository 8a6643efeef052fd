"""The README's Python example runs (with fewer iterations and steps, to keep CI fast)."""

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    code = blocks[0]
    shrunk = (code.replace("n_iterations=3000", "n_iterations=20")
              .replace("n_steps=10_000", "n_steps=1_500")
              .replace("n_steps=2000", "n_steps=50")
              .replace("bb.fit(net, ctrl, [lorenz, cycle], cfg,",
                       "bb.fit(net, ctrl, [lorenz, cycle], cfg, progress=False,"))
    assert shrunk != code, "the README example changed: update the shrinking in this test"
    namespace = {}
    exec(compile(shrunk, str(README), "exec"), namespace)
    assert namespace["outputs"].shape == (50, 3)
