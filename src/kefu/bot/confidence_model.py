"""The bot's confidence model as data (BOT-5), written by `kefu bench calibrate`: do not edit by
hand. A candidate's confidence is σ(BIAS + Σ WEIGHTS·signals), the signals named in FEATURES
(computed by kefu.bot.matcher); the matcher answers at THRESHOLD or above."""

# kefu bench calibrate --split fit --sizes 50,300,5000 --pairs lcqmc/dev.txt --pairs afqmc/train.txt
#   --pairs bq_corpus/dev.csv --pairs pawsx_zh/dev_2k.tsv --pairs oppo_xiaobu/dev.txt
# worst group confident_wrong 5.0%, abstain_answerable 92.2%
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
)
BIAS = -1.149
WEIGHTS = (
    -0.237,  # query_missing
    0.235,  # phrasing_missing
    -1.207,  # query_missing_kb
    -0.668,  # phrasing_missing_kb
    3.32,  # spelling
    -1.007,  # char_query
    -0.06,  # char_phrasing
    -0.441,  # margin
    -0.353,  # near
    -1.422,  # kb_size
    -0.151,  # order_flip
    -0.217,  # negation
    0.657,  # query_words
    2.578,  # margin_by_size
    -0.532,  # near_by_size
    1.115,  # same_words
    -0.815,  # spelling_squared
    -1.386,  # swapped
    -2.255,  # swapped_same_words
    0.3,  # query_covered
    0.196,  # phrasing_covered
    1.722,  # missing_both
)
THRESHOLD = 0.7
