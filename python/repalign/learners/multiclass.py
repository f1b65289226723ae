"""Multiclass learner: trial-by-trial softmax logistic regression on tasks with K
classes and test trials without feedback (Huber, Mast & Wichmann 2024).

Semantics. Trials are presented in order; *train* trials are predicted and then
learned from (their label is revealed), *test* trials are only predicted. The
prediction for any trial uses the fit on all train trials before it; features
are standardised by those train trials' mean and population s.d. (constant → 1).
The fit is a K-class softmax with one weight vector and one intercept per class,
the intercept being a feature of constant value 1 penalised like a weight (the
category learner's liblinear convention):

    ½ Σ_k (‖w_k‖² + b_k²) + C Σ_i −log softmax(W z_i + b)_{y_i}.

This equals scikit-learn's multinomial ``LogisticRegression(C=C,
fit_intercept=False)`` on the features with a column of ones appended. Until
every class has appeared in the train trials the learner predicts 1/K.

How it is computed. The optimal weights lie in the span of the training points,
so each fit is solved in an m = min(d+1, n)-dimensional basis (a QR of the
augmented training features) by Newton's method with a line search, warm-started
from the previous fit and batched over tasks with the same trial structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from repalign.datasets import Embedding
from repalign.device import resolve_device
from repalign.errors import ValidationError
from repalign.learners._common import DTYPE, as_task_list, simulate_in_batches, standardize, task_features

__all__ = ["MulticlassTask", "MulticlassLearner", "huber_tasks", "multiclass_probabilities"]

PHASES = ("train", "test")


@dataclass(frozen=True)
class MulticlassTask:
    """One sequence of a K-class learning task, one entry per trial in
    presentation order.

    stimulus_ids, labels (class names), phase ("train": predicted, then learned
    from; "test": predicted only): (n_trials,). classes: the K class names
    (probability columns follow this order). epoch: optional int per trial.
    choices: optional class chosen by the human/agent per trial. participant:
    optional id (defaults to the task id in output tables).
    """

    task_id: str
    stimulus_ids: tuple[str, ...]
    labels: tuple[str, ...]
    phase: tuple[str, ...]
    classes: tuple[str, ...]
    epoch: tuple[int, ...] | None = None
    choices: tuple[str, ...] | None = None
    participant: str | None = None

    def __post_init__(self) -> None:
        n = len(self.stimulus_ids)
        where = f"multiclass task {self.task_id!r}"
        for name in ("labels", "phase", "epoch", "choices"):
            v = getattr(self, name)
            if v is not None and len(v) != n:
                raise ValidationError(f"{where}: {len(v)} {name} for {n} trials")
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValidationError(f"{where}: classes must be ≥ 2 distinct names, got {self.classes}")
        bad = sorted({p for p in self.phase if p not in PHASES})
        if bad:
            raise ValidationError(f"{where}: phase must be 'train' or 'test', got {bad}")
        unknown = sorted({c for c in self.labels if c not in self.classes})
        if unknown:
            raise ValidationError(f"{where}: labels {unknown} are not among classes {self.classes}")
        if "train" not in self.phase:
            raise ValidationError(f"{where}: no train trials")

    def __len__(self) -> int:
        return len(self.stimulus_ids)

    @classmethod
    def from_epochs(
        cls, task_id: str, train, test=None, classes=None, participant=None, train_choices=None, test_choices=None
    ):
        """Build from epochs: ``train[e] = (stimulus ids, labels)`` in presentation
        order; optional ``test[e] = (ids, labels)`` shown after epoch e's train
        trials (empty or None for none); optional human choices likewise."""
        ids, labels, phase, epoch, choices = [], [], [], [], []
        test = test or [None] * len(train)
        if len(test) != len(train):
            raise ValidationError(f"multiclass task {task_id!r}: {len(train)} train epochs but {len(test)} test sets")
        have_choices = train_choices is not None
        for e, (tr, te) in enumerate(zip(train, test), start=1):
            for part, ph, ch in ((tr, "train", train_choices), (te, "test", test_choices)):
                if part is None or len(part[0]) == 0:
                    continue
                s, lab = part
                if len(s) != len(lab):
                    raise ValidationError(
                        f"multiclass task {task_id!r}: epoch {e} {ph}: {len(s)} ids but {len(lab)} labels"
                    )
                ids += list(s)
                labels += list(lab)
                phase += [ph] * len(s)
                epoch += [e] * len(s)
                if have_choices:
                    choices += list(ch[e - 1])
        classes = tuple(classes) if classes is not None else tuple(sorted(set(labels)))
        return cls(
            task_id,
            tuple(ids),
            tuple(labels),
            tuple(phase),
            classes,
            tuple(epoch),
            tuple(choices) if have_choices else None,
            participant,
        )


def huber_tasks(data=None, agent: str = "human", runs=None) -> list[MulticlassTask]:
    """Huber et al.'s 3-category task (classes p, q, v), one task per run of ``agent``.

    Each run has 6 epochs; an epoch is 36 train trials (in the order that run
    saw them) followed by the 51 images of one test set (which set, and the
    order, as in that run). Stimulus ids are the image names without ``.png``
    (the ids of ``load_learning_dynamics().images``); ``choices`` holds the
    agent's predictions. task_id = ``huber-<agent>-run<r>``, participant =
    ``<agent>-<r>``. ``data`` defaults to ``load_learning_dynamics((agent,))``;
    ``runs`` selects runs (default all).
    """
    from repalign.datasets import load_learning_dynamics

    if data is None:
        data = load_learning_dynamics((agent,))
    df = data.trials[data.trials["agent"] == agent]
    if df.empty:
        raise ValidationError(f"learning-dynamics data hold no trials of agent {agent!r}")
    all_runs = sorted(df["run"].unique())
    if runs is not None:
        missing = [r for r in runs if r not in all_runs]
        if missing:
            raise ValidationError(f"agent {agent!r} has no run(s) {missing}; runs: {all_runs}")
        all_runs = [r for r in all_runs if r in set(runs)]
    tasks = []
    for r in all_runs:
        d = df[df["run"] == r]
        order = {"train": 0, "test": 1}
        # presentation order: epochs, train before test, file order within each
        d = d.assign(_ph=d["phase"].map(order), _row=np.arange(len(d))).sort_values(["epoch", "_ph", "_row"])
        ids = tuple(d["image_name"].str.removesuffix(".png"))
        tasks.append(
            MulticlassTask(
                task_id=f"huber-{agent}-run{r}",
                stimulus_ids=ids,
                labels=tuple(d["ground_truth"]),
                phase=tuple(d["phase"]),
                classes=("p", "q", "v"),
                epoch=tuple(int(e) for e in d["epoch"]),
                choices=tuple(d["prediction"]),
                participant=f"{agent}-{r}",
            )
        )
    return tasks


_STEPS = torch.tensor([2.0**-k for k in range(0, 31)], dtype=DTYPE)


def _softmax_newton(Phi, Y, V, C, tol=1e-9, max_iter=200):
    """Minimise ½‖V‖² + C Σ_i CE(y_i, softmax(V φ_i)) over V (E, K, m), batched.

    Phi: (E, n, m); Y: (E, n, K) one-hot. Newton with a backtracking line search.
    """
    E, n, m = Phi.shape
    K = Y.shape[-1]
    eye = torch.eye(K * m, dtype=DTYPE, device=Phi.device)
    steps = _STEPS.to(Phi.device)
    F = Phi @ V.transpose(-1, -2)  # (E, n, K)
    for _ in range(max_iter):
        P = torch.softmax(F, -1)
        g = V + C * (P - Y).transpose(-1, -2) @ Phi  # (E, K, m)
        A = torch.diag_embed(P) - P.unsqueeze(-1) * P.unsqueeze(-2)  # (E, n, K, K)
        H = C * torch.einsum("eia,eikl,eib->ekalb", Phi, A, Phi).reshape(E, K * m, K * m) + eye
        L, _ = torch.linalg.cholesky_ex(H)
        delta = -torch.cholesky_solve(g.reshape(E, K * m, 1), L).reshape(E, K, m)
        Fd = Phi @ delta.transpose(-1, -2)
        eta = steps.view(1, -1)
        quad = (
            0.5 * (V * V).sum((-1, -2)).unsqueeze(-1)
            + eta * (V * delta).sum((-1, -2)).unsqueeze(-1)
            + 0.5 * eta**2 * (delta * delta).sum((-1, -2)).unsqueeze(-1)
        )
        Fe = F.unsqueeze(1) + eta.view(1, -1, 1, 1) * Fd.unsqueeze(1)  # (E, S, n, K)
        ce = (torch.logsumexp(Fe, -1) - (Fe * Y.unsqueeze(1)).sum(-1)).sum(-1)
        obj = quad + C * ce
        base = 0.5 * (V * V).sum((-1, -2)) + C * (torch.logsumexp(F, -1) - (F * Y).sum(-1)).sum(-1)
        ok = obj <= (base + 1e-12 * base.abs()).unsqueeze(-1)
        first = torch.where(
            ok.any(-1), ok.to(torch.int64).argmax(-1), torch.full_like(base, steps.numel(), dtype=torch.int64)
        )
        step = torch.cat([steps, steps.new_zeros(1)])[first].view(E, 1, 1)
        V = V + step * delta
        F_new = F + step * Fd
        change = (F_new - F).abs().max()
        F = F_new
        if change.item() < tol:
            break
    return V


def multiclass_probabilities(
    X: torch.Tensor, y: torch.Tensor, is_train: np.ndarray, K: int, C: float, tol: float = 1e-9
) -> torch.Tensor:
    """Class probabilities for a batch of tasks with the same trial structure.

    X: (B, N, d) float64 features per trial; y: (B, N) int class indices;
    is_train: (N,) bool. Returns (B, N, K): each trial predicted from the fit on
    the train trials before it; 1/K until every class has been trained on.
    """
    B, N, d = X.shape
    dev = X.device
    probs = torch.full((B, N, K), 1.0 / K, dtype=DTYPE, device=dev)
    train_pos = np.flatnonzero(is_train)
    n_before = np.cumsum(np.concatenate([[0], is_train[:-1].astype(int)]))  # train trials before each trial
    Yall = torch.nn.functional.one_hot(y, K).to(DTYPE)
    Xtr, Ytr = X[:, train_pos], Yall[:, train_pos]
    seen = torch.cumsum(Ytr, 1) > 0  # (B, Ntr, K)
    Wfull = torch.zeros((B, K, d + 1), dtype=DTYPE, device=dev)  # weights in augmented feature space
    for s in range(1, len(train_pos) + 1):
        targets = np.flatnonzero(n_before == s)
        if targets.size == 0:
            continue
        Z, Zq = standardize(Xtr[:, :s], X[:, targets])
        ones = Z.new_ones(B, s, 1)
        Zt = torch.cat([Z, ones], -1)  # (B, s, d+1)
        Q, R = torch.linalg.qr(Zt.transpose(-1, -2))  # Q (B, d+1, m), R (B, m, s)
        Phi = R.transpose(-1, -2)
        V0 = Wfull @ Q  # (B, K, m): previous weights in the new basis
        V = _softmax_newton(Phi, Ytr[:, :s], V0, C, tol=tol)
        Wfull = V @ Q.transpose(-1, -2)
        Zq = torch.cat([Zq, Zq.new_ones(B, len(targets), 1)], -1)
        Fq = Zq @ Wfull.transpose(-1, -2)
        all_seen = seen[:, s - 1].all(-1).view(B, 1, 1)
        probs[:, targets] = torch.where(all_seen, torch.softmax(Fq, -1), probs[:, targets])
    return probs


@dataclass
class MulticlassLearner:
    """Trial-by-trial K-class learner (see the module docstring).

    C: inverse penalty. pca: project features on k principal components of the
    task's stimuli. batch_size: tasks per batch; device: None → CUDA if present.
    """

    C: float = 1.0
    pca: int | None = None
    batch_size: int = 16
    device: str | None = None
    tol: float = 1e-9

    def simulate(self, task_or_tasks, features: Embedding, model: str = "model", layer: str = "") -> pd.DataFrame:
        """Trial table (``trials`` schema): task, participant, trial (1-based,
        presentation order), model, layer, stimulus_id, phase, epoch (if the task
        has epochs), true_class, prob_<class> per class, prediction (most probable
        class; the first on ties), value = probability of the true class, correct,
        and choice (the human's/agent's class) when the task has choices."""
        if not (np.isfinite(self.C) and self.C > 0):
            raise ValidationError(f"MulticlassLearner: C must be positive and finite, got {self.C}")
        tasks = as_task_list(task_or_tasks, MulticlassTask, "MulticlassLearner")
        dev = resolve_device(self.device)

        def run_batch(idx: list[int]) -> list[pd.DataFrame]:
            t0 = tasks[idx[0]]
            classes = list(t0.classes)
            X = np.stack(
                [
                    task_features(tasks[i].stimulus_ids, features, self.pca, f"multiclass task {tasks[i].task_id!r}")
                    for i in idx
                ]
            )
            y = np.stack([[classes.index(c) for c in tasks[i].labels] for i in idx]).astype(np.int64)
            is_train = np.asarray(t0.phase) == "train"
            P = (
                multiclass_probabilities(
                    torch.as_tensor(X, device=dev),
                    torch.as_tensor(y, device=dev),
                    is_train,
                    len(classes),
                    float(self.C),
                    self.tol,
                )
                .cpu()
                .numpy()
            )
            return [_frame(tasks[i], classes, P[j], y[j], model, layer) for j, i in enumerate(idx)]

        return simulate_in_batches(tasks, lambda t: (t.phase, t.classes), self.batch_size, run_batch)


def _frame(
    task: MulticlassTask, classes: list[str], P: np.ndarray, y: np.ndarray, model: str, layer: str
) -> pd.DataFrame:
    """One task's rows of the trial table: P (T, K) class probabilities, y (T,) true class indices."""
    pred = np.asarray(classes, dtype=object)[P.argmax(-1)]
    cols = {
        "task": task.task_id,
        "participant": task.participant if task.participant is not None else task.task_id,
        "trial": np.arange(1, len(task) + 1, dtype=np.int64),
        "model": model,
        "layer": layer,
        "stimulus_id": list(task.stimulus_ids),
        "phase": list(task.phase),
    }
    if task.epoch is not None:
        cols["epoch"] = np.asarray(task.epoch, dtype=np.int64)
    cols["true_class"] = list(task.labels)
    for k, c in enumerate(classes):
        cols[f"prob_{c}"] = P[:, k]
    cols["prediction"] = pred.astype(str)
    cols["value"] = P[np.arange(len(task)), y]
    cols["correct"] = pred == np.asarray(task.labels, dtype=object)
    if task.choices is not None:
        cols["choice"] = list(task.choices)
    return pd.DataFrame(cols)
