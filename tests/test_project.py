"""The project's own promises: set-up files agree, the CI script runs the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _requirement_names(lines):
    names = set()
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith(("-", "pip:")):
            continue
        names.add(re.split(r"[<>=!~ \[]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_environment_yml_mirrors_requirements_txt():
    requirements = _requirement_names((ROOT / "requirements.txt").read_text().splitlines())
    environment = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        match = re.match(r"\s*-\s+([A-Za-z0-9_.\-]+)\s*([<>=!~].*)?$", line)
        if match and match.group(1) not in ("pip", "python"):
            environment.add(match.group(1).lower().replace("_", "-"))
    assert requirements == environment


def test_torch_stays_pinned_to_the_local_cpu_wheel():
    pins = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch")]
    assert pins == ["torch==2.13.0"]
    assert "torch==2.13.0" in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make lab" in readme


def test_makefile_test_target_runs_ruff_units_and_nbval_in_parallel():
    makefile = (ROOT / "Makefile").read_text()
    for needle in ("ruff check", "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with",
                   "--dist loadscope", "-n $(JOBS)", "course_utils.install", "PORT ?="):
        assert needle in makefile, needle


def test_every_course_utils_module_has_a_test_file():
    modules = [p.stem for p in (ROOT / "course_utils").glob("*.py") if p.stem != "__init__"]
    exercise_modules = [p.stem for p in (ROOT / "course_utils" / "exercises").glob("*.py") if p.stem != "__init__"]
    missing = [m for m in modules if not (ROOT / "tests" / f"test_{m}.py").exists()]
    missing += [f"exercises.{m}" for m in exercise_modules if not (ROOT / "tests" / f"test_exercises_{m}.py").exists()]
    assert not missing, f"modules without tests: {missing}"


def test_no_run_time_downloads_in_package_notebooks_or_scripts():
    pattern = re.compile(r"from_pretrained\(|hf_hub_download|gensim\.downloader|api\.load\(|urlopen\(|requests\.get\(")
    offenders = []
    for path in [*ROOT.glob("course_utils/**/*.py"), *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("scripts/*.py")]:
        if pattern.search(path.read_text(errors="ignore")):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders
