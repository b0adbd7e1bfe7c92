"""A version on trial against the served one, on the same reviewed cases: pure statistics.

The input is how many reviewed cases had each (radiologist's final finding, served version's
label, trial version's label). Each version gets its agreement with the radiologists, its
COVID-19 sensitivity and specificity, each with an exact (Clopper-Pearson) 95% interval, and a
confusion matrix. Whether the two differ by more than chance is McNemar's exact test: only
the cases where exactly one of them agrees with the radiologist carry information, and under
"no difference" each such case is equally likely to favour either (a fair binomial).
"""

from django.utils.translation import gettext

from dataclasses import dataclass

from classifier.labels import COVID, FINDING_NAMES, FINDINGS, LABELS

CONFIDENCE = 0.95
Triples = dict[tuple[str, str, str], int]  # (finding, served label, trial label) -> cases


def clopper_pearson(k: int, n: int, level: float = CONFIDENCE) -> tuple[float, float] | None:
    """The exact binomial interval for k successes in n trials; None when n is 0."""
    if n == 0:
        return None
    from scipy.stats import beta  # imported here: scipy.stats costs every web process ~0.5 s and memory

    tail = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
    return low, high


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs (1.0 when there are none)."""
    if b + c == 0:
        return 1.0
    from scipy.stats import binomtest  # imported here, as in clopper_pearson

    return float(binomtest(b, b + c, 0.5).pvalue)


@dataclass(frozen=True)
class Proportion:
    k: int
    n: int

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return clopper_pearson(self.k, self.n)

    @property
    def text(self) -> str:
        if not self.n:
            return "–"
        low, high = self.interval
        return f"{100 * self.value:.1f}% ({self.k}/{self.n}; 95% CI {100 * low:.1f}–{100 * high:.1f}%)"


@dataclass(frozen=True)
class MatrixRow:
    finding: str
    counts: list[int]  # in LABELS order
    total: int


def confusion_matrix(counts: dict[tuple[str, str], int]) -> list[MatrixRow]:
    """Rows: radiologist finding; columns: predicted label. counts[(finding, predicted)]."""
    rows = []
    for finding in FINDINGS:
        row = [counts.get((finding, label), 0) for label in LABELS]
        rows.append(MatrixRow(FINDING_NAMES[finding], row, sum(row)))
    return rows


@dataclass(frozen=True)
class VersionFigures:
    agreement: Proportion
    covid_sensitivity: Proportion
    covid_specificity: Proportion
    matrix: list[MatrixRow]

    def as_details(self) -> dict:
        return {**{name: {"k": p.k, "n": p.n} for name, p in (
            ("agreement", self.agreement), ("covid_sensitivity", self.covid_sensitivity),
            ("covid_specificity", self.covid_specificity))}, "matrix": [row.counts for row in self.matrix]}


def figures(pairs: dict[tuple[str, str], int]) -> VersionFigures:
    """One version's figures from (finding, label) -> cases."""
    def total(keep) -> int:
        return sum(n for (finding, label), n in pairs.items() if keep(finding, label))

    return VersionFigures(
        agreement=Proportion(total(lambda f, label: f == label), total(lambda f, label: True)),
        covid_sensitivity=Proportion(total(lambda f, label: f == COVID and label == COVID),
                                     total(lambda f, label: f == COVID)),
        covid_specificity=Proportion(total(lambda f, label: f != COVID and label != COVID),
                                     total(lambda f, label: f != COVID)),
        matrix=confusion_matrix(pairs),
    )


@dataclass(frozen=True)
class Comparison:
    cases: int
    served: VersionFigures
    trial: VersionFigures
    only_served_agrees: int  # McNemar's b
    only_trial_agrees: int  # McNemar's c
    p_value: float

    @property
    def verdict(self) -> str:
        if self.cases == 0:
            return gettext("No reviewed case has been scored by both versions yet.")
        p_value = f"{self.p_value:.3g}"
        if self.p_value < 1 - CONFIDENCE:
            if self.only_trial_agrees > self.only_served_agrees:
                return gettext("The difference is more than chance (McNemar p = %(p)s): the trial version agrees more "
                               "often.") % {"p": p_value}
            return gettext("The difference is more than chance (McNemar p = %(p)s): the served version agrees more "
                           "often.") % {"p": p_value}
        return gettext("The difference could be chance (McNemar p = %(p)s).") % {"p": p_value}

    def as_details(self) -> dict:
        """What the administrator saw, for the audit trail."""
        return {"cases": self.cases, "served": self.served.as_details(), "trial": self.trial.as_details(),
                "only_served_agrees": self.only_served_agrees, "only_trial_agrees": self.only_trial_agrees,
                "mcnemar_p": round(self.p_value, 6), "verdict": self.verdict}

    @property
    def against_trial(self) -> bool:
        """The served version agrees with the radiologists more often, by more than chance."""
        return self.p_value < 1 - CONFIDENCE and self.only_served_agrees > self.only_trial_agrees


def compare(triples: Triples) -> Comparison:
    served: dict[tuple[str, str], int] = {}
    trial: dict[tuple[str, str], int] = {}
    b = c = 0
    for (finding, served_label, trial_label), n in triples.items():
        served[(finding, served_label)] = served.get((finding, served_label), 0) + n
        trial[(finding, trial_label)] = trial.get((finding, trial_label), 0) + n
        if served_label == finding != trial_label:
            b += n
        elif trial_label == finding != served_label:
            c += n
    return Comparison(cases=sum(triples.values()), served=figures(served), trial=figures(trial),
                      only_served_agrees=b, only_trial_agrees=c, p_value=mcnemar_exact(b, c))
