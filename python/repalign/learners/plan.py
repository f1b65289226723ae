"""The ``[[learners]]`` config section → independent, content-keyed tasks.

One task per (learners entry, representation) writes one ``trials`` table under
``<output>/learners/`` (on CUDA, one task per group of models writes those same tables:
``group_across_models``). A stage alone is planned by
``repalign.pipeline.plan.plan_stage(config, "learners")``. Representations are names resolved once per run
(``repalign.representations.resolve.resolve``); a learner task depends on
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from repalign.config import Config, parse_section
from repalign.device import resolve_device
from repalign.errors import ValidationError
from repalign.learners.config import TASKS, LearnerEntry, learner_kind
from repalign.stages import Stage
from repalign.task import Task
from repalign.task import content_key as _key
from repalign.task import safe_name as _safe

if TYPE_CHECKING:
    from repalign.representations import Representation

__all__ = [
    "run_learner",
    "run_learners_across_models",
    "group_across_models",
    "learner_spec",
    "LearnerJob",
    "TASKS",
    "load_tasks",
]

_VERSION = 1  # bump when the learners' numbers change for the same inputs
KEYS = tuple(LearnerEntry.model_fields)


def learner_spec(entry: LearnerEntry | Mapping[str, Any], where: str, seed: int = 0) -> dict[str, Any]:
    """A ``[[learners]]`` entry's values as written (validated, or validated here)
    with the task kind's defaults: the explicit values its tasks are keyed on."""
    if isinstance(entry, Mapping):
        entry = parse_section(LearnerEntry, entry, where)
    spec = entry.spec(exclude_unset=True)
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
            raise ValidationError(
                f"{where}: 'choices' (human choices in the paper's format) applies only to tasks "
                f"demircan-category and demircan-reward, not {task!r}"
            )
        if "tasks" in spec:
            raise ValidationError(f"{where}: give either 'choices' (runs the cond files in it) or 'tasks', not both")
        if not isinstance(spec["choices"], str):
            raise ValidationError(f"{where}: choices must be a file path (string), got {spec['choices']!r}")
    if "simulate" in spec:
        sim = spec["simulate"]
        spec["simulate"] = {
            "temperature": float(sim.get("temperature", 1.0)),
            "lapse": float(sim.get("lapse", 0.05)),
            "seed": int(sim.get("seed", seed)),
        }
    if task == "stimuli-category":
        spec.setdefault("label", "category")
        spec.setdefault("participants", 20)
        spec.setdefault("trials", 100)
    kind = learner_kind(task)
    if kind == "category":
        try:
            make_learner(spec)._check()
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
    return spec


@dataclass(frozen=True)
class LearnerJob:
    """What one learner task runs: its ``[[learners]]`` entry and the values the plan
    fixed for it. A task receives this (frozen, picklable) and nothing else of the config.

    spec: ``learner_spec`` of the entry (its values as written, the task kind's
    defaults, ``choices`` as an absolute path); task_seed: seed of the stimuli-category
    task sequences (drawn once per entry: every representation sees the same ones);
    stimuli: that task's [[stimuli]] section as written (its path absolute) and
    stimuli_content: the set's content hash; choices_sha256: the human choices file's
    content; generating: the representation whose simulated choices every other
    representation of the entry gets (model recovery), generated_by: the key and
    output of that representation's task.
    """

    spec: Mapping[str, Any]
    task_seed: int | None = None
    stimuli: Mapping[str, Any] | None = None
    stimuli_content: str | None = None
    choices_sha256: str | None = None
    generating: str | None = None
    generated_by: tuple[str, str] | None = None  # (task key, trials table) of the generating representation

    @property
    def task(self) -> str:
        return str(self.spec["task"])

    def key_fields(self) -> dict[str, Any]:
        """What the task key hashes: the spec (but where its numbers do not depend on:
        representations, device, the choices file's path) with the plan's values,
        under the names they have always had (so existing outputs keep their keys)."""
        out = {k: v for k, v in self.spec.items() if k not in ("representations", "device", "choices")}
        if self.generated_by is not None:
            out.pop("simulate", None)
            out["_choices_key"] = self.generated_by[0]
        for name, value in (
            ("_task_seed", self.task_seed),
            ("_stimuli_section", self.stimuli),
            ("_stimuli_content", self.stimuli_content),
            ("_choices_sha256", self.choices_sha256),
        ):
            if value is not None:
                out[name] = value
        return out


def _ids(sel, n_all: int):
    if sel is None:
        return None
    if isinstance(sel, int):
        return list(range(1, min(sel, n_all) + 1))
    return [str(s) for s in sel]


def load_tasks(job: LearnerJob) -> list:
    """The task objects an entry runs on."""
    from repalign.datasets import load_category_tasks, load_reward_tasks, load_things_decisions

    spec = job.spec
    task = spec["task"]
    if task == "stimuli-category":
        from repalign.features.stimuli import load_stimulus_set
        from repalign.learners.stimulus_tasks import stimulus_category_tasks

        stim = load_stimulus_set(dict(job.stimuli or {}))
        return stimulus_category_tasks(
            stim,
            label=spec["label"],
            positive=spec.get("positive"),
            participants=int(spec["participants"]),
            trials=int(spec["trials"]),
            seed=int(job.task_seed),
        )
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

    return read_demircan_choices(spec["choices"], learner_kind(spec["task"]))


def make_learner(spec: Mapping[str, Any]):
    from repalign.learners import CategoryLearner, MulticlassLearner, RewardLearner

    kind = learner_kind(spec["task"])
    variant = spec.get("variant", "default")
    if kind == "category":
        return CategoryLearner(
            C=None if spec.get("C") is None else float(spec["C"]),
            C_grid=spec.get("C_grid"),
            selection=spec.get("selection"),
            pca=spec.get("pca"),
            key=spec.get("key", "concept"),
            device=spec.get("device"),
            variant=variant,
        )
    if kind == "reward":
        return RewardLearner(
            ard=bool(spec.get("ard", False)),
            pca=spec.get("pca"),
            key=spec.get("key", "concept"),
            device=spec.get("device"),
            variant=variant,
        )
    return MulticlassLearner(C=float(spec.get("C", 1.0)), pca=spec.get("pca"), device=spec.get("device"))


def run_learner(job: LearnerJob, ref: Representation, path: str, provenance: dict) -> str:
    """Task body: load the representation, simulate the learner on the entry's
    tasks (and simulated choices if asked), write the trials table atomically."""
    from repalign.store import write_table

    spec = job.spec
    model, layer = learner_names(ref)
    tasks = load_tasks(job)
    df = make_learner(spec).simulate(tasks, ref.load(), model=model, layer=layer)
    write_table(_finish(job, df), path, kind="trials", provenance=provenance)
    return path


def _finish(job: LearnerJob, df):
    """A learner's trials table as the task writes it: human or simulated choices, the
    task kind and the entry's name added."""
    from repalign.learners.choices import simulate_choices

    spec = job.spec
    if spec.get("choices"):
        from repalign.learners.human_choices import attach_human_choices

        df = attach_human_choices(df, _human_choices(spec))
    df.insert(0, "task_kind", spec["task"])
    if spec.get("name"):
        df["entry"] = spec["name"]
    if job.generated_by is not None:
        # model recovery: the choices simulated from the generating representation
        df = _attach_choices(df, job.generated_by[1])
    elif "simulate" in spec:
        s = spec["simulate"]
        df = simulate_choices(df, s["temperature"], s["lapse"], s["seed"])
    return df


def run_learners_across_models(
    job: LearnerJob,
    refs: Sequence[Representation],
    paths: Sequence[str],
    keys: Sequence[str],
    provenances: Sequence[dict],
    backend: str,
) -> list[str]:
    """Task body of a group of models (CUDA plans): the entry's learner on every
    representation of ``refs`` in one batched solve per batch of tasks
    (``repalign.learners.across_models``), each model's table written to the path, and
    with the provenance, its own per-model task would have written: ``provenance["task"]``
    is that task's key (``keys[m]``), so a later per-model plan finds the table current;
    ``cache_key`` the same, for this group task (its ``output_keys``)."""
    from repalign.learners import across_models
    from repalign.store import write_table

    learner = make_learner(job.spec)
    simulate = (
        across_models.simulate_category_models
        if learner_kind(job.task) == "category"
        else across_models.simulate_reward_models
    )
    dfs = simulate(learner, load_tasks(job), [r.load() for r in refs], [learner_names(r) for r in refs], backend)
    for df, path, member, prov in zip(dfs, paths, keys, provenances, strict=True):
        write_table(_finish(job, df), path, kind="trials", provenance=dict(prov, task=member, cache_key=member))
    return list(paths)


def learner_names(ref: Representation) -> tuple[str, str]:
    """(model, layer) a learner table calls its representation."""
    return str(ref.model or ref.name), str(ref.layer or "")


def _attach_choices(df, path: str):
    """Add the ``choice`` column of the generating representation's table (same
    task, participant, trial and stimulus)."""
    from repalign.store import read_table

    gen = read_table(path, kind="trials")[["task", "participant", "trial", "stimulus_id", "choice"]]
    out = df.merge(
        gen, on=["task", "participant", "trial"], how="left", suffixes=("", "_generating"), validate="one_to_one"
    )
    if out["choice"].isna().any() or (out["stimulus_id"] != out["stimulus_id_generating"]).any():
        raise ValidationError(f"learner table does not line up with the generating table {path}")
    return out.drop(columns="stimulus_id_generating").astype({"choice": "int64"})


def _identity(ref: Representation) -> dict:
    """What identifies a representation's numbers (not its display name, never the output path)."""
    return {
        "kind": ref.kind,
        "model": ref.model,
        "layer": ref.layer,
        "stimuli": ref.stimuli,
        "cache_key": ref.cache_key,
        "params": ref.key_params,
    }


def _plan_stage(config: Config, entries: dict, resolved, upstream) -> list[Task]:
    return _plan(config, entries["learners"], resolved.reps, resolved.stimuli)


def _job(config: Config, spec: dict, where: str, stimuli: Mapping[str, tuple]) -> LearnerJob:
    """The plan's values of one entry: the absolute choices path and its content, the
    stimuli-category set and seed. Every check before any work."""
    fixed: dict[str, Any] = {}
    if spec.get("choices"):
        from repalign.learners.human_choices import check_against_tasks, file_sha256

        spec["choices"] = str(config.resolve(spec["choices"]))
        job = LearnerJob(spec)
        try:  # every check before any work: columns, cond files, trials, images
            check_against_tasks(_human_choices(spec), load_tasks(job), f"choices file {spec['choices']}")
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}") from None
        fixed["choices_sha256"] = file_sha256(spec["choices"])  # the content, not the path, keys the task
    if spec["task"] == "stimuli-category":
        if spec["stimuli"] not in stimuli:
            raise ValidationError(
                f"{where}: unknown stimuli {spec['stimuli']!r}; defined: {', '.join(stimuli) or 'none'}"
            )
        sec = dict(stimuli[spec["stimuli"]][0])  # as written, its path absolute
        from repalign.features.plan import stimulus_content

        # the sequences are drawn once per entry (every representation sees the same ones), from
        # the set's labels: its content is part of the key
        fixed.update(
            stimuli=sec,
            stimuli_content=stimulus_content(sec),
            task_seed=int((spec.get("simulate") or {}).get("seed", config.seed)),
        )
    return LearnerJob(spec, generating=spec.get("generating"), **fixed)


def _plan(
    config: Config, entries: Sequence[LearnerEntry], refs: Mapping[str, Representation], stimuli: Mapping[str, tuple]
) -> list[Task]:
    """Tasks of the validated [[learners]] ``entries`` over the representations ``refs``."""
    tasks: list[Task] = []
    root = config.output / "learners"
    for i, entry in enumerate(entries):
        where = f"[[learners]] #{i + 1}"
        spec = learner_spec(entry, where, config.seed)
        job = _job(config, spec, where, stimuli)
        names = spec.get("representations") or sorted(refs)
        unknown = [n for n in names if n not in refs]
        if unknown:
            raise ValidationError(
                f"{where}: unknown representation(s) {unknown}; defined: {', '.join(sorted(refs)) or 'none'}"
            )
        if not names:
            raise ValidationError(f"{where}: no representations (define [[models]] or [[representations]])")
        generating = job.generating
        if generating is not None:
            if generating not in names:
                raise ValidationError(f"{where}: generating representation {generating!r} is not among {names}")
            names = [generating] + [n for n in names if n != generating]
        gen_task = None
        members: list[tuple[Task, Representation]] = []
        for name in names:
            ref = refs[name]
            dims = (ref.params or {}).get("dims")  # known before any work for files, random, SPoSE
            if spec.get("pca") is not None and dims is not None and spec["pca"] > dims:
                raise ValidationError(
                    f"{where} pca: expected at most {dims} components (representation {name!r} "
                    f"has {dims} dimensions), got {spec['pca']}"
                )
            job_n = job if gen_task is None else replace(job, generated_by=(gen_task.key, str(gen_task.outputs[0])))
            fields = job_n.key_fields()
            key = _key({"v": _VERSION, "spec": fields, "rep": _identity(ref)})
            path = root / f"{spec['task']}-{_safe(name)}-{key}.parquet"
            prov = {
                "producer": "repalign.learners.run_learner",
                "representation": name,
                "key": key,
                "spec": dict(fields, **{k: spec[k] for k in ("representations", "device", "choices") if k in spec}),
            }
            if generating is not None:
                prov["generating"] = generating
            deps = ref.deps + ((gen_task.key,) if gen_task is not None else ())
            task = Task(
                f"learners:{spec['task']}:{_safe(name)}:{key}",
                "learners",
                (path,),
                run_learner,
                kwargs=dict(job=job_n, ref=ref, path=str(path), provenance=prov),
                deps=deps,
                label=f"{spec['task']} {name}",
            )
            members.append((task, ref))
            if generating is not None and gen_task is None:
                gen_task = task
        tasks.extend(group_across_models(job, members, _entry_device(spec)))
    return tasks


#: most models one grouped task solves together (CUDA): a category batch of 64 tasks ×
#: 120 trials × 2,048 float64 features is 126 MB per model, so 16 models stay ≈ 2 GB.
MODELS_PER_GROUP = 16


def _entry_device(spec: Mapping[str, Any]):
    """The torch device an entry's learner will run on, resolved here at plan time;
    None when it cannot be (e.g. "cuda" asked for on a machine without one: the
    per-model tasks stay, and fail when run, as before)."""
    try:
        return resolve_device(spec.get("device"))
    except ValidationError:
        return None


def group_across_models(job: LearnerJob, members: Sequence[tuple[Task, Representation]], device) -> list[Task]:
    """The entry's per-representation tasks ``members`` (task, representation), or,
    where ``device`` (the resolved torch device) is CUDA and the rule of
    ``across_models.choose_backend`` picks torch for the batch: one task per group of
    ≤ ``MODELS_PER_GROUP`` models that solves them together and writes each model's
    table to the path (and under the key) of its per-model task. On the CPU (or for
    the published variant, a generating representation, a C search by training
    accuracy, the ARD reward learner) the members unchanged."""
    tasks = [t for t, _ in members]
    kind = learner_kind(job.task)
    if device is None or device.type != "cuda" or kind not in ("category", "reward") or len(members) < 2:
        return tasks
    if job.generating is not None:
        return tasks
    from repalign.learners import across_models

    learner = make_learner(job.spec)
    if across_models.batchable(learner) is not None:
        return tasks
    per_solve = min(len(load_tasks(job)), learner.batch_size)  # tasks per batch of simulate
    out: list[Task] = []
    for start in range(0, len(members), MODELS_PER_GROUP):
        group = members[start : start + MODELS_PER_GROUP]
        if len(group) < 2 or across_models.choose_backend(kind, len(group) * per_solve, device) != "torch":
            out.extend(t for t, _ in group)
            continue
        keys = [t.key for t, _ in group]
        deps = tuple(dict.fromkeys(d for t, _ in group for d in t.deps))
        key = f"learners-batch:{job.task}:{_key(keys)}"
        out.append(
            Task(
                key,
                "learners",
                tuple(p for t, _ in group for p in t.outputs),
                run_learners_across_models,
                kwargs=dict(
                    job=job,
                    refs=[r for _, r in group],
                    paths=[str(t.outputs[0]) for t, _ in group],
                    keys=keys,
                    provenances=[t.kwargs["provenance"] for t, _ in group],
                    backend="torch",
                ),
                deps=deps,
                label=f"{job.task} {len(group)} models",
                output_keys=tuple(keys),
            )
        )
    return out


STAGE = Stage("learners", ("learners",), _plan_stage, models={"learners": LearnerEntry}, tasks=(run_learner,))
