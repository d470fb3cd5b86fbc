#!/usr/bin/env python3
"""Writes Tests/LumenTests/Fixtures/sklearn/reports.json: for several sets of true and
predicted labels (and scores), what sklearn.metrics prints and computes:
confusion_matrix, classification_report text at 2 and 4 digits, and roc_auc_score.

Usage: pip install scikit-learn; python3 Scripts/make-sklearn-fixtures.py
"""
import json
import os
import warnings

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "LumenTests", "Fixtures", "sklearn")
warnings.filterwarnings("ignore")


def case(name, classes, truth, predicted, scores=None):
    labels = list(range(len(classes)))
    entry = {
        "name": name, "classes": classes, "truth": truth, "predicted": predicted,
        "confusion": confusion_matrix(truth, predicted, labels=labels).tolist(),
        "report2": classification_report(truth, predicted, labels=labels, target_names=classes, digits=2),
        "report4": classification_report(truth, predicted, labels=labels, target_names=classes, digits=4),
    }
    if scores is not None:
        entry["scores"] = scores
        entry["roc_auc"] = roc_auc_score(truth, scores)
    return entry


def main():
    rng = np.random.default_rng(11)
    cases = []
    truth = [0] * 234 + [1] * 390  # the chest X-ray test set's balance
    scores = [float(s) for s in np.clip(np.array(truth) * 0.35 + rng.normal(0.4, 0.2, len(truth)), 0, 1)]
    predicted = [int(s >= 0.5) for s in scores]
    cases.append(case("xray_binary", ["NORMAL", "PNEUMONIA"], truth, predicted, scores))
    truth = [int(t) for t in rng.integers(0, 3, 300)]
    predicted = [t if rng.random() < 0.8 else int(rng.integers(0, 3)) for t in truth]
    cases.append(case("covid_three", ["COVID19", "NORMAL", "PNEUMONIA"], truth, predicted))
    # A class never predicted (precision 0/0) and one never present (recall 0/0).
    cases.append(case("zero_division", ["a", "b", "c"], [0, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 0]))
    cases.append(case("long_names", ["Cat_with_a_very_long_class_name", "dog"], [0, 1, 1, 0, 1], [0, 1, 0, 0, 1]))
    ties = [0.5, 0.5, 0.2, 0.8, 0.5, 0.9]
    cases.append(case("tied_scores", ["neg", "pos"], [0, 1, 0, 1, 0, 1], [int(s >= 0.5) for s in ties], ties))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "reports.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
