"""The semantic re-ranker's confidence model as data (BOT-5), written by `kefu bench calibrate
--semantic`: do not edit by hand. A rescored candidate's confidence is σ(BIAS + Σ
WEIGHTS·signals), the signals named in FEATURES (the lexical ones of kefu.bot.matcher, then the
semantic ones of kefu.bot.semantic); the re-ranker answers at THRESHOLD or above."""

from kefu.bot import confidence_model

FEATURES = (*confidence_model.FEATURES, "semantic", "semantic_lead", "semantic_squared")
BIAS = confidence_model.BIAS
WEIGHTS = (*confidence_model.WEIGHTS, 0.0, 0.0, 0.0)
THRESHOLD = confidence_model.THRESHOLD
