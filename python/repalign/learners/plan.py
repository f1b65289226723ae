"""The ``[[learners]]`` config section → independent, content-keyed tasks.

One task per (learners entry, representation) writes one ``trials`` table under
``<output>/learners/``. Representations are names resolved by
``repalign.representations.resolve_representations(config)``; a learner task depends on
the task that produces its representation.

Keys of a ``[[learners]]`` entry (defaults in brackets)::

    task            things-decisions | demircan-category | demircan-reward |
                    learning-dynamics | demo-category | demo-reward |
                    stimuli-category                                  (required)
    representations names                             [every representation]
    name            label written to the table's `entry` column        [""]
    tasks           task ids (list) or N = the first N condition files [all;
                    demo-*: 4]
    runs, agent     learning-dynamics runs [all] and agent ["human"]
    variant         default | published (category, reward: the learner
                    exactly as Demircan et al.'s code ran it; see
                    docs/fidelity.md)                                  [default]
    choices         demircan-category / demircan-reward: CSV of human
                    choices in the paper's format (participant,
                    cond_file, trial 0-based, choice); runs the cond
                    files in it, one row per participant and trial,
                    with their `choice` (not with `tasks`)            [none]
    C               inverse penalty (category, multiclass)             [1.0;
                    published: none → search C_grid]
    C_grid          list of C, "default" (17 values, 1e-4…1e4) or
                    "published" (the seed's 17 values, 1e-4…20)       [none;
                    published: "published"]
    selection       prequential | train_accuracy        [prequential; published:
                                                          train_accuracy]
    pca             k principal components of the task's stimuli       [none]
    ard             ARD prior for the reward learner                   [false]
    key             concept | image | path (how tasks look up features:
                    concept ids, image stems `anvil_08n`, or folder/stem
                    `anvil/anvil_08n` = a [[stimuli]] folder at THINGS'
                    object_images)                                     [concept]
    simulate        {temperature, lapse, seed}: add simulated choices  [demo-*: {}]
    device          torch device                                       [auto]

stimuli-category (category learning over any labelled [[stimuli]] set; the offline
demo's model-recovery study)::

    stimuli         name of a [[stimuli]] set                          (required)
    label           label column defining the categories               [category]
    positive        label values of category 1                         [seeded half]
    participants, trials                                               [20, 100]
    generating      representation whose learner values generate the
                    simulated choices (needs `simulate`); every other
                    representation's table gets those same choices, so
                    choice models can recover the generating model     [none]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from repalign.config import Config, parse_entries, parse_section
from repalign.errors import ValidationError
from repalign.learners.config import TASKS, LearnerEntry, SimulateSpec, learner_kind
from repalign.task import Task, content_key as _key, safe_name as _safe

if TYPE_CHECKING:
    from repalign.representations import Representation

__all__ = ["plan_learners", "run_learner", "learner_spec", "TASKS", "load_tasks"]

_VERSION = 1  # bump when the learners' numbers change for the same inputs
KEYS = tuple(LearnerEntry.model_fields)
SIM_KEYS = tuple(SimulateSpec.model_fields)


def learner_spec(entry: Mapping[str, Any], where: str, seed: int = 0) -> dict[str, Any]:
    """A validated ``[[learners]]`` entry (as written) with the task kind's defaults."""
    spec = parse_section(LearnerEntry, entry, where).spec(exclude_unset=True)
    task = spec["task"]
    if isinstance(spec.get("representations"), str):
        spec["representations"] = [spec["representations"]]
    spec.setdefault("name", "")
    if task.startswith("demo-"):
        spec.setdefault("tasks", 4)
        spec.setdefault("simulate", {})
    if spec.get("variant") == "default":
        del spec["variant"]  # the same task (content key) as leaving it out
    if spec.get("C_grid") in ("default", "published"):
        from repalign.learners.category import DEFAULT_C_GRID, PUBLISHED_C_GRID

        spec["C_grid"] = list(DEFAULT_C_GRID if spec["C_grid"] == "default" else PUBLISHED_C_GRID)
    if "choices" in spec:
        if task not in ("demircan-category", "demircan-reward"):
            raise ValidationError(f"{where}: 'choices' (human choices in the paper's format) applies only to tasks "
                                  f"demircan-category and demircan-reward, not {task!r}")
        if "tasks" in spec:
            raise ValidationError(f"{where}: give either 'choices' (runs the cond files in it) or 'tasks', not both")
        if not isinstance(spec["choices"], str):
            raise ValidationError(f"{where}: choices must be a file path (string), got {spec['choices']!r}")
    if "simulate" in spec:
        sim = spec["simulate"]
        spec["simulate"] = {"temperature": float(sim.get("temperature", 1.0)), "lapse": float(sim.get("lapse", 0.05)),
                            "seed": int(sim.get("seed", seed))}
    if task == "stimuli-category":
        spec.setdefault("label", "category")
        spec.setdefault("participants", 20)
        spec.setdefault("trials", 100)
        # the sequences are drawn once per entry: every representation sees the same ones
        spec["_task_seed"] = int((spec.get("simulate") or {}).get("seed", seed))
    kind = _learner_kind(task)
    if kind == "category":
        try:
            make_learner(spec)._check()
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
    return spec


_learner_kind = learner_kind


def _ids(sel, n_all: int):
    if sel is None:
        return None
    if isinstance(sel, int):
        return list(range(1, min(sel, n_all) + 1))
    return [str(s) for s in sel]


def load_tasks(spec: Mapping[str, Any]) -> list:
    """The task objects an entry runs on."""
    from repalign.datasets import load_category_tasks, load_reward_tasks, load_things_decisions

    task = spec["task"]
    if task == "stimuli-category":
        from repalign.features.stimuli import load_stimulus_set
        from repalign.learners.stimulus_tasks import stimulus_category_tasks

        stim = load_stimulus_set(spec["_stimuli_section"])
        return stimulus_category_tasks(stim, label=spec["label"], positive=spec.get("positive"),
                                       participants=int(spec["participants"]), trials=int(spec["trials"]),
                                       seed=int(spec["_task_seed"]))
    sel = spec.get("tasks")
    if spec.get("choices"):  # the cond files the humans did
        sel = sorted(_human_choices(spec)["cond_file"].unique(), key=int)
    if task in ("demircan-category", "demo-category"):
        return load_category_tasks(_ids(sel, 1050))
    if task in ("demircan-reward", "demo-reward"):
        return load_reward_tasks(_ids(sel, 240))
    if task == "things-decisions":
        tasks = load_things_decisions().tasks()
        sel = spec.get("tasks")
        if sel is None:
            return tasks
        if isinstance(sel, int):
            return tasks[:sel]
        keep = {str(s) for s in sel}
        missing = sorted(keep - {t.task_id for t in tasks})
        if missing:
            raise ValidationError(f"things-decisions has no participant(s) {missing}")
        return [t for t in tasks if t.task_id in keep]
    from repalign.learners.multiclass import huber_tasks

    return huber_tasks(agent=spec.get("agent", LearnerEntry.model_fields["agent"].default), runs=spec.get("runs"))


def _human_choices(spec: Mapping[str, Any]):
    from repalign.learners.human_choices import read_demircan_choices

    return read_demircan_choices(spec["choices"], _learner_kind(spec["task"]))


def make_learner(spec: Mapping[str, Any]):
    from repalign.learners import CategoryLearner, MulticlassLearner, RewardLearner

    kind = _learner_kind(spec["task"])
    variant = spec.get("variant", "default")
    if kind == "category":
        return CategoryLearner(C=None if spec.get("C") is None else float(spec["C"]), C_grid=spec.get("C_grid"),
                               selection=spec.get("selection"), pca=spec.get("pca"), key=spec.get("key", "concept"),
                               device=spec.get("device"), variant=variant)
    if kind == "reward":
        return RewardLearner(ard=bool(spec.get("ard", False)), pca=spec.get("pca"), key=spec.get("key", "concept"),
                             device=spec.get("device"), variant=variant)
    return MulticlassLearner(C=float(spec.get("C", 1.0)), pca=spec.get("pca"), device=spec.get("device"))


def run_learner(spec: dict, ref: Representation, model: str, layer: str, path: str, provenance: dict) -> str:
    """Task body: load the representation, simulate the learner on the entry's
    tasks (and simulated choices if asked), write the trials table atomically."""
    from repalign.learners.choices import simulate_choices
    from repalign.store import write_table

    tasks = load_tasks(spec)
    df = make_learner(spec).simulate(tasks, ref.load(), model=model, layer=layer)
    if spec.get("choices"):
        from repalign.learners.human_choices import attach_human_choices

        df = attach_human_choices(df, _human_choices(spec))
    df.insert(0, "task_kind", spec["task"])
    if spec.get("name"):
        df["entry"] = spec["name"]
    if spec.get("_choices_from"):
        # model recovery: the choices simulated from the generating representation
        df = _attach_choices(df, spec["_choices_from"])
    elif "simulate" in spec:
        s = spec["simulate"]
        df = simulate_choices(df, s["temperature"], s["lapse"], s["seed"])
    write_table(df, path, kind="trials", provenance=provenance)
    return path


def _attach_choices(df, path: str):
    """Add the ``choice`` column of the generating representation's table (same
    task, participant, trial and stimulus)."""
    from repalign.store import read_table

    gen = read_table(path, kind="trials")[["task", "participant", "trial", "stimulus_id", "choice"]]
    out = df.merge(gen, on=["task", "participant", "trial"], how="left", suffixes=("", "_generating"), validate="one_to_one")
    if out["choice"].isna().any() or (out["stimulus_id"] != out["stimulus_id_generating"]).any():
        raise ValidationError(f"learner table does not line up with the generating table {path}")
    return out.drop(columns="stimulus_id_generating").astype({"choice": "int64"})


def _identity(ref: Representation) -> dict:
    """What identifies a representation's numbers (not its display name, never the output path)."""
    return {"kind": ref.kind, "model": ref.model, "layer": ref.layer, "stimuli": ref.stimuli,
            "cache_key": ref.identity, "params": ref.key_params}


def plan_learners(config: Config) -> list[Task]:
    """Tasks for every ``[[learners]]`` entry × representation."""
    entries = config.section("learners") or []
    parse_entries(LearnerEntry, entries, "learners")  # types and keys of every entry, one line per error
    specs = [learner_spec(e, f"[[learners]] #{i + 1}", config.seed) for i, e in enumerate(entries)]
    if not specs:
        return []
    from repalign.representations import resolve_representations

    refs = dict(resolve_representations(config))
    tasks: list[Task] = []
    root = config.output / "learners"
    stimuli_sections = {str(s.get("name", s.get("source"))): dict(s) for s in (config.section("stimuli") or [])}
    for i, spec in enumerate(specs):
        where = f"[[learners]] #{i + 1}"
        if spec.get("choices"):
            from repalign.learners.human_choices import check_against_tasks, file_sha256

            spec["choices"] = str(config.resolve(spec["choices"]))
            try:  # every check before any work: columns, cond files, trials, images
                check_against_tasks(_human_choices(spec), load_tasks(spec), f"choices file {spec['choices']}")
            except ValidationError as exc:
                raise ValidationError(f"{where}: {exc}") from None
            spec["_choices_sha256"] = file_sha256(spec["choices"])  # the content, not the path, keys the task
        if spec["task"] == "stimuli-category":
            if spec["stimuli"] not in stimuli_sections:
                raise ValidationError(f"{where}: unknown stimuli {spec['stimuli']!r}; defined: {', '.join(stimuli_sections) or 'none'}")
            sec = stimuli_sections[spec["stimuli"]]
            sec.pop("optional", None)
            if "path" in sec:
                sec["path"] = str(config.resolve(sec["path"]))
            spec["_stimuli_section"] = sec
            from repalign.features.plan import stimulus_content

            # the task sequences come from the set's labels: its content is part of the key
            spec["_stimuli_content"] = stimulus_content(sec)
        names = spec.get("representations") or sorted(refs)
        unknown = [n for n in names if n not in refs]
        if unknown:
            raise ValidationError(f"{where}: unknown representation(s) {unknown}; defined: {', '.join(sorted(refs)) or 'none'}")
        if not names:
            raise ValidationError(f"{where}: no representations (define [[models]] or [[representations]])")
        generating = spec.get("generating")
        if generating is not None:
            if generating not in names:
                raise ValidationError(f"{where}: generating representation {generating!r} is not among {names}")
            names = [generating] + [n for n in names if n != generating]
        gen_task = None
        for name in names:
            ref = refs[name]
            dims = (ref.params or {}).get("dims")  # known before any work for files, random, SPoSE
            if spec.get("pca") is not None and dims is not None and spec["pca"] > dims:
                raise ValidationError(f"{where} pca: expected at most {dims} components (representation {name!r} "
                                      f"has {dims} dimensions), got {spec['pca']}")
            model, layer = str(ref.model or name), str(ref.layer or "")
            spec_n = dict(spec)
            if gen_task is not None:
                spec_n.pop("simulate", None)
                spec_n["_choices_key"] = gen_task.key
                spec_n["_choices_from"] = str(gen_task.outputs[0])
            ident = {"v": _VERSION, "spec": {k: v for k, v in spec_n.items() if k not in ("representations", "device", "_choices_from", "choices")},
                     "rep": _identity(ref)}
            key = _key(ident)
            path = root / f"{spec['task']}-{_safe(name)}-{key}.parquet"
            prov = {"producer": "repalign.learners.run_learner", "representation": name, "key": key,
                    "spec": {k: v for k, v in spec_n.items() if k != "_choices_from"}}
            if generating is not None:
                prov["generating"] = generating
            deps = ref.deps + ((gen_task.key,) if gen_task is not None else ())
            task = Task(f"learners:{spec['task']}:{_safe(name)}:{key}", "learners", (path,), run_learner,
                        (spec_n, ref, model, layer, str(path), prov), deps=deps, label=f"{spec['task']} {name}")
            tasks.append(task)
            if generating is not None and gen_task is None:
                gen_task = task
    return tasks
