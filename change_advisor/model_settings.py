"""Training settings of the risk model, apart from the model so that loading settings stays light (no statsmodels)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_outcomes: int = Field(50, ge=10, description="fewer outcomes than this: the cold-start prior is used")
    min_per_class: int = Field(10, ge=2, description="and at least this many failures and successes")
    knots: int = Field(3, ge=0, le=8, description="spline hinges per continuous feature")
    half_life: float = Field(0.25, gt=0, description="recency half-life as a share of the training time span")
    ridge: float = Field(1e-4, ge=0, description="L2 penalty of the GLM (statsmodels elastic net, L1_wt=0)")
    calibration_share: float = Field(0.2, gt=0, lt=0.5, description="newest share of training rows for calibration")
