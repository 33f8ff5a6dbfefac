"""The semantic re-ranker's confidence model as data (BOT-5), written by `kefu bench calibrate
--semantic`: do not edit by hand. A rescored candidate's confidence is σ(BIAS + Σ
WEIGHTS·signals), the signals named in FEATURES (the lexical ones of kefu.bot.matcher, then the
semantic ones of kefu.bot.semantic); the re-ranker answers at THRESHOLD or above."""

# kefu bench calibrate --semantic --split fit --most 1000 --budget 0.05 --sizes 50,300,5000
#   --pairs lcqmc/dev.txt --pairs afqmc/train.txt --pairs bq_corpus/dev.csv --pairs
#   pawsx_zh/dev_2k.tsv --pairs oppo_xiaobu/dev.txt
# depth 5; worst group confident_wrong 5.0%, abstain_answerable 87.1%
FEATURES = (
    "query_missing",
    "phrasing_missing",
    "query_missing_kb",
    "phrasing_missing_kb",
    "spelling",
    "char_query",
    "char_phrasing",
    "margin",
    "near",
    "kb_size",
    "order_flip",
    "negation",
    "query_words",
    "margin_by_size",
    "near_by_size",
    "same_words",
    "spelling_squared",
    "swapped",
    "swapped_same_words",
    "query_covered",
    "phrasing_covered",
    "missing_both",
    "semantic",
    "semantic_lead",
    "semantic_squared",
)
BIAS = -4.097
WEIGHTS = (
    0.456,  # query_missing
    0.427,  # phrasing_missing
    -0.624,  # query_missing_kb
    -0.014,  # phrasing_missing_kb
    2.241,  # spelling
    -1.297,  # char_query
    -0.06,  # char_phrasing
    0.447,  # margin
    -0.373,  # near
    -0.772,  # kb_size
    0.004,  # order_flip
    -0.18,  # negation
    -0.283,  # query_words
    1.024,  # margin_by_size
    -0.467,  # near_by_size
    1.12,  # same_words
    -2.01,  # spelling_squared
    -1.18,  # swapped
    -2.067,  # swapped_same_words
    0.426,  # query_covered
    0.184,  # phrasing_covered
    -0.124,  # missing_both
    3.814,  # semantic
    0.739,  # semantic_lead
    1.478,  # semantic_squared
)
THRESHOLD = 0.71
