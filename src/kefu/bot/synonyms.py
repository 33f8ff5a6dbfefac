"""Synonym groups for the bot's matcher (BOT-5): a default e-commerce list and the merge of a
shop's own groups into one word → canonical-word table. Pure data and set logic; it knows
nothing of jieba or ranking. 退货 (return goods) and 退款 (refund) stay in separate groups on
purpose: shops answer them differently, and merging them would make those entries tie."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kefu.bot.text import normalise

# The first word of each group is its canonical form.
DEFAULT_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("快递", "物流", "快件", "速递", "包裹", "快递公司", "物流公司"),
    ("发货", "寄出", "出货", "发出", "寄货", "送出"),
    ("多久", "几天", "多长时间", "多少天", "多少时间", "多长时候", "要多久", "几日", "多久时间"),
    ("什么时候", "啥时候", "何时", "几时", "哪天", "什么时间"),
    ("包邮", "免运费", "免邮", "免邮费", "不要运费", "免费配送"),
    ("运费", "邮费", "快递费", "运输费", "配送费", "物流费"),
    ("退款", "退钱", "退费", "返款", "钱退回"),
    ("退货", "退回去", "退掉", "寄回", "退回", "退东西", "退", "不想要", "不想要了"),
    ("换货", "调换", "换一个", "换个"),
    ("发票", "开票", "开发票", "增值税发票", "电子发票", "开具发票"),
    ("尺码", "尺寸", "码数", "码子", "大小号"),
    ("优惠券", "优惠卷", "代金券", "折扣券", "券"),
    ("优惠", "打折", "折扣", "便宜", "降价", "活动价"),
    ("人工", "人工客服", "真人", "转人工", "人工服务"),
    ("客服", "售后客服", "店家", "卖家", "商家", "掌柜"),
    ("价格", "价钱", "多少钱", "售价", "几块钱"),
    ("地址", "收货地址", "寄送地址", "送货地址"),
    ("修改", "更改", "改一下", "变更"),
    ("取消", "撤销", "不要了"),
    ("订单", "单子", "订单号", "单号"),
    ("签收", "收货", "到货", "收到货"),
    ("没收到", "还没到", "收不到", "没有收到"),
    (
        "怎么",
        "怎样",
        "如何",
        "咋",
        "怎么样才能",
        "如何才能",
        "怎么才能",
        "怎么弄",
        "怎么操作",
        "如何操作",
        "怎么办理",
        "如何办理",
        "流程",
        "步骤",
        "手续",
        "流程是什么",
        "步骤是什么",
        "什么流程",
    ),
    ("为什么", "为啥", "咋回事", "怎么回事", "为何"),
    ("什么", "啥", "什么样", "哪家", "哪个", "哪种", "神么", "神马", "啥子"),
    ("可以", "能", "能不能", "可不可以", "能否", "是否可以", "行不行"),
    ("质量", "品质", "做工"),
    ("正品", "真品", "行货", "正版"),
    ("保修", "质保", "保修期", "保质期"),
    ("破损", "损坏", "坏了", "摔坏", "压坏", "碎了"),
    ("缺货", "没货", "断货", "售罄", "卖完"),
    ("有货", "现货", "有库存"),
    ("付款", "支付", "付钱", "买单", "结账"),
    ("到账", "到账户", "退到账"),
    ("账号", "账户", "帐户", "用户名"),
    ("手机号", "电话", "手机号码", "电话号码", "联系电话"),
    ("发错", "寄错", "发错货"),
    ("颜色", "色号", "配色"),
    ("衣服", "衣裳", "服装"),
    ("购买", "买", "下单", "拍下"),
    ("有", "有没有", "有木有"),
    ("使用", "用"),
)


def canonical_table(
    groups: Iterable[Sequence[str]],
) -> dict[str, str]:
    """Merge overlapping groups (union-find) into word → canonical word (BOT-5)."""
    parent: dict[str, str] = {}

    def root(word: str) -> str:
        while parent[word] != word:
            parent[word] = parent[parent[word]]
            word = parent[word]
        return word

    for group in groups:
        words = [w for w in (normalise(g) for g in group) if w]
        for word in words:
            parent.setdefault(word, word)
        for word in words[1:]:
            first, other = root(words[0]), root(word)
            if first != other:
                # The group seen first keeps its canonical word.
                parent[other] = first
    return {word: root(word) for word in parent if root(word) != word}
