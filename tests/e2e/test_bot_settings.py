"""The owner sets up the bot in the settings pages; a consumer is served by it in the widget."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import SCREENSHOTS, Server, Watch, field, login

pytestmark = pytest.mark.e2e

XSS = "<img src=x onerror=alert(1)>"
QUESTION = "什么时候发货？"
PHRASING = "几天能发货"
BOT_ON = {"bot_enabled": True, "bot_mode": "bot_first"}
ANSWER = "下单后 48 小时内发货，默认顺丰快递，偏远地区 72 小时内。"


# --- page helpers -------------------------------------------------------------------------


def open_settings(page: Page, server: Server, sub: str) -> None:
    page.goto(f"{server.base}/settings/{sub}")
    page.get_by_test_id(f"{sub}-page").wait_for()


def add_question(page: Page, question: str, answer: str, phrasings: list[str]) -> None:
    page.get_by_test_id("kb-add").click()
    dialog = page.get_by_test_id("question-dialog")
    field(dialog, "q-question").fill(question)
    field(dialog, "q-answer").fill(answer)
    for i, p in enumerate(phrasings):
        if i > 0:
            dialog.get_by_test_id("q-phrasing-add").click()
        dialog.locator("input[data-testid=q-phrasing], [data-testid=q-phrasing] input").nth(i).fill(
            p
        )
    dialog.get_by_test_id("q-save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("kb-row-question").filter(has_text=question)).to_be_visible()


def pick_question(page: Page, picker: Locator, question: str) -> None:
    picker.click()
    picker.locator("input").fill(question[:4])
    option = page.locator(".question-picker-popper [data-testid=question-option]:visible")
    option.filter(has_text=question).first.click()


def set_faq_entry(page: Page, section: str, title: str, question: str) -> None:
    page.get_by_test_id("menu-add").click()
    menu = page.get_by_test_id("menu-entry").last
    field(menu, "menu-title").fill(section)
    menu.get_by_test_id("child-add").click()
    child = menu.get_by_test_id("menu-child").last
    field(child, "child-title").fill(title)
    pick_question(page, child.get_by_test_id("child-question"), question)


def save_entry(page: Page) -> None:
    page.get_by_test_id("entry-save").click()
    expect(page.locator(".el-message--success").last).to_be_visible()


def bot_answers(widget: Page | Any) -> Locator:
    return widget.locator("[data-testid=message][data-sender=bot]")


def ask(widget: Page | Any, text: str) -> None:
    field(widget, "widget-input").fill(text)
    widget.get_by_test_id("widget-send").click()


def owner_api(server: Server) -> httpx.Client:
    """The owner over HTTP, for setup; log out before the browser logs in as the owner."""
    return server.staff("owner", online=False)


def empty_knowledge_base(server: Server) -> None:
    """The demo ships a knowledge base (and the bot on); these tests build their own."""
    api = owner_api(server)
    while items := api.get("/api/kb/questions", params={"page_size": 200}).json()["items"]:
        for item in items:
            api.delete(f"/api/kb/questions/{item['id']}").raise_for_status()
    for category in api.get("/api/kb/categories").json()["items"]:
        api.delete(f"/api/kb/categories/{category['id']}").raise_for_status()
    api.post("/api/auth/logout").raise_for_status()
    api.close()


def figure(page: Page, key: str) -> str:
    return str(page.get_by_test_id(f"figure-{key}").get_by_test_id("figure-value").inner_text())


# --- tests --------------------------------------------------------------------------------


def test_bot_answers_from_the_knowledge_base_and_hands_over(
    server: Server, new_page: Any, watch: Watch
) -> None:
    empty_knowledge_base(server)
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    owner.get_by_test_id("open-settings").wait_for()

    # BOT-2: a question with another phrasing.
    open_settings(owner, server, "kb")
    add_question(owner, QUESTION, ANSWER, [PHRASING])

    # BOT-1: the bot on, bot first; the try-out box understands other words.
    open_settings(owner, server, "bot")
    owner.get_by_test_id("mode-bot_first").click()
    # The demo starts with the bot on: switch it off and on again.
    expect(owner.get_by_test_id("bot-enabled")).to_have_class(re.compile(r"\bis-checked\b"))
    owner.get_by_test_id("bot-enabled").click()
    expect(owner.get_by_test_id("bot-enabled")).not_to_have_class(re.compile(r"\bis-checked\b"))
    owner.get_by_test_id("bot-enabled").click()
    expect(owner.get_by_test_id("bot-enabled")).to_have_class(re.compile(r"\bis-checked\b"))
    field(owner, "try-input").fill("请问几天能发货")
    owner.get_by_test_id("try-submit").click()
    expect(owner.get_by_test_id("try-result")).to_have_attribute("data-answered", "true")
    expect(owner.get_by_test_id("try-answer")).to_have_text(ANSWER)

    # ENTRY-2: a FAQ menu entry linked to the question.
    open_settings(owner, server, "entry")
    # The page has loaded the shop's entry (the demo's welcome) before it is edited.
    welcome = field(owner, "entry-welcome-input")
    expect(welcome).to_have_value("您好，欢迎光临！请问有什么可以帮您？")
    welcome.fill("您好，我是小鹿优选的智能助手，有问题随时问我～")
    set_faq_entry(owner, "发货物流", "多久发货", QUESTION)
    save_entry(owner)

    agent = new_page(base=server.base)
    login(agent, server, "agent1")

    # The consumer sees the welcome and the menu, and is answered in other words.
    phone = new_page(width=390, height=844)
    phone.goto(f"{server.base}/widget?shop=1")
    expect(phone.get_by_test_id("widget-status")).to_have_attribute("data-state", "bot")
    expect(phone.get_by_test_id("entry-welcome")).to_have_text(
        "您好，我是小鹿优选的智能助手，有问题随时问我～"
    )
    expect(phone.get_by_test_id("faq-tab")).to_have_text(["发货物流"])
    expect(phone.get_by_test_id("faq-item")).to_contain_text(["多久发货"])
    expect(phone.get_by_test_id("request-human")).to_be_visible()

    ask(phone, "你好，请问几天能发货呀")
    answer = bot_answers(phone).filter(has_text=ANSWER).first
    expect(answer).to_be_visible()
    feedback = answer.get_by_test_id("bot-feedback")
    expect(feedback).to_have_attribute("data-state", "pending")
    feedback.get_by_test_id("feedback-resolved").click()
    expect(feedback).to_have_attribute("data-state", "resolved")
    expect(feedback.get_by_test_id("feedback-recorded")).to_be_visible()

    # BOT-6: a FAQ click is answered like the question.
    phone.get_by_test_id("faq-item").first.click()
    expect(bot_answers(phone).filter(has_text=ANSWER)).to_have_count(2)

    # BOT-4: two misses in a row hand the consumer over to a human.
    ask(phone, "量子力学和红烧肉有什么关系")
    expect(bot_answers(phone).last).to_contain_text("换个方式")
    ask(phone, "火星上的奶茶店几点开门")
    expect(phone.get_by_test_id("widget-status")).to_have_attribute("data-state", "assigned")
    expect(agent.get_by_test_id("conversation-item")).to_have_count(1)
    agent.get_by_test_id("conversation-item").first.click()
    history = agent.get_by_test_id("message-history")
    expect(history.get_by_text("火星上的奶茶店几点开门")).to_be_visible()

    # BOT-3, BOT-6: the owner's statistics count it.
    open_settings(owner, server, "bot")
    consultations = owner.get_by_test_id("figure-consultations").get_by_test_id("figure-value")
    expect(consultations).to_have_text(re.compile(r"^[1-9][0-9]*$"))
    assert figure(owner, "resolutionRate").endswith("%")
    assert figure(owner, "feedbackRate") == "100%"
    expect(owner.get_by_test_id("faq-clicks").get_by_text("多久发货")).to_be_visible()
    expect(owner.get_by_test_id("bot-stats-chart")).to_be_visible()
    assert watch.dialogs == []
    assert watch.errors == []


def test_settings_text_is_shown_as_text(server: Server, new_page: Any, watch: Watch) -> None:
    empty_knowledge_base(server)
    api = owner_api(server)
    r = api.post(
        "/api/kb/questions",
        json={"question": "XSS test", "answer": XSS, "phrasings": [XSS], "related_ids": []},
    )
    r.raise_for_status()
    qid = r.json()["id"]
    api.put("/api/shop/settings", json=BOT_ON).raise_for_status()
    api.put(
        "/api/shop/entry",
        json={
            "welcome_message": XSS,
            "faq_menu": [{"title": XSS, "children": [{"title": XSS, "question_id": qid}]}],
            "bot_cards": [{"title": XSS, "question_id": qid}],
            "consumer_phrases": [XSS],
        },
    ).raise_for_status()
    api.post(
        "/api/quick-phrases", json={"scope": "shop", "title": XSS, "body": XSS}
    ).raise_for_status()
    api.post("/api/auth/logout").raise_for_status()
    api.close()

    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    open_settings(owner, server, "kb")
    expect(owner.get_by_test_id("kb-row-answer")).to_have_text(XSS)
    owner.get_by_test_id("kb-edit").click()
    expect(field(owner.get_by_test_id("question-dialog"), "q-answer")).to_have_value(XSS)
    owner.keyboard.press("Escape")
    open_settings(owner, server, "entry")
    expect(owner.get_by_test_id("entry-preview").get_by_test_id("faq-tab")).to_have_text([XSS])
    expect(field(owner, "menu-title")).to_have_value(XSS)
    # ENTRY-2: the add buttons stop at the limits.
    expect(owner.get_by_test_id("card-add")).to_be_enabled()
    for _ in range(3):
        owner.get_by_test_id("card-add").click()
    expect(owner.get_by_test_id("card-entry")).to_have_count(4)
    expect(owner.get_by_test_id("card-add")).to_be_disabled()
    open_settings(owner, server, "phrases")
    owner.get_by_test_id("scope-shop").click()
    # The demo ships shop phrases of its own; the added one is listed as text among them.
    expect(owner.get_by_test_id("phrase-row-body").filter(has_text=XSS)).to_have_text([XSS])

    phone = new_page(width=390, height=844)
    phone.goto(f"{server.base}/widget?shop=1")
    expect(phone.get_by_test_id("entry-welcome")).to_have_text(XSS)
    expect(phone.get_by_test_id("faq-tab")).to_have_text([XSS])
    expect(phone.get_by_test_id("bot-card")).to_have_text([XSS])
    expect(phone.get_by_test_id("consumer-phrase")).to_have_text([XSS])
    phone.get_by_test_id("faq-item").first.click()
    expect(bot_answers(phone).get_by_test_id("message-body")).to_have_text([XSS])
    phone.get_by_test_id("consumer-phrase").first.click()
    expect(
        phone.locator("[data-testid=message][data-sender=consumer]").get_by_test_id("message-body")
    ).to_have_text([XSS])

    phone.wait_for_timeout(500)
    for page in (owner, phone):
        assert page.locator("img[src=x]").count() == 0
    assert watch.dialogs == []


def test_screenshots_of_the_knowledge_base_and_the_bot(
    server: Server, new_page: Any, watch: Watch
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    empty_knowledge_base(server)
    api = owner_api(server)
    categories = {}
    for name in ("发货物流", "售后退换", "商品咨询"):
        categories[name] = api.post("/api/kb/categories", json={"name": name}).json()["id"]
    kb = [
        ("发货物流", QUESTION, ANSWER, [PHRASING, "多久发货", "什么时候寄出"]),
        ("发货物流", "用的什么快递？", "默认顺丰快递，部分地区可选京东物流。", ["发什么快递"]),
        ("发货物流", "可以改收货地址吗？", "发货前可在订单详情修改地址。", []),
        ("售后退换", "支持七天无理由退货吗？", "支持，签收后 7 天内可申请。", ["能退货吗"]),
        ("售后退换", "退款多久到账？", "审核通过后 1–3 个工作日原路退回。", ["退款几天到"]),
        ("商品咨询", "羽绒服会掉毛吗？", "防钻绒面料，正常穿着不会掉毛。", ["羽绒服跑毛吗"]),
        ("商品咨询", "尺码怎么选？", "160 cm / 50 kg 左右建议 M 码。", ["穿什么码", "尺码推荐"]),
    ]
    ids = {}
    for category, question, answer, phrasings in kb:
        r = api.post(
            "/api/kb/questions",
            json={
                "category_id": categories[category],
                "question": question,
                "answer": answer,
                "phrasings": phrasings,
                "related_ids": [],
            },
        )
        r.raise_for_status()
        ids[question] = r.json()["id"]
    first = ids[QUESTION]
    api.put(
        f"/api/kb/questions/{first}",
        json={
            "category_id": categories["发货物流"],
            "question": QUESTION,
            "answer": ANSWER,
            "phrasings": [PHRASING, "多久发货", "什么时候寄出"],
            "related_ids": [ids["用的什么快递？"], ids["可以改收货地址吗？"]],
        },
    ).raise_for_status()
    api.put("/api/shop/settings", json=BOT_ON).raise_for_status()
    api.put(
        "/api/shop/entry",
        json={
            "welcome_message": "您好，欢迎光临小鹿优选！我是智能助手，常见问题可以直接点下面哦",
            "faq_menu": [
                {
                    "title": "发货物流",
                    "children": [
                        {"title": "什么时候发货", "question_id": first},
                        {"title": "用的什么快递", "question_id": ids["用的什么快递？"]},
                    ],
                },
                {
                    "title": "售后退换",
                    "children": [
                        {"title": "七天无理由退货", "question_id": ids["支持七天无理由退货吗？"]},
                    ],
                },
                {
                    "title": "商品咨询",
                    "children": [{"title": "尺码怎么选", "question_id": ids["尺码怎么选？"]}],
                },
            ],
            "bot_cards": [
                {"title": "查物流", "question_id": first},
                {"title": "退换货", "question_id": ids["支持七天无理由退货吗？"]},
            ],
            "consumer_phrases": ["什么时候发货？", "有优惠券吗？", "能便宜点吗？"],
        },
    ).raise_for_status()
    api.post("/api/auth/logout").raise_for_status()
    api.close()

    phone = new_page(width=390, height=844)
    phone.goto(f"{server.base}/widget?shop=1")
    expect(phone.get_by_test_id("faq-item").first).to_be_visible()
    ask(phone, "你好，请问几天能发货呀")
    answer = bot_answers(phone).filter(has_text=ANSWER).first
    expect(answer.get_by_test_id("feedback-resolved")).to_be_visible()
    expect(answer.get_by_test_id("related-question")).to_have_count(2)
    phone.wait_for_timeout(300)
    phone.screenshot(path=str(SCREENSHOTS / "widget-bot-390x844.png"))

    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    open_settings(owner, server, "kb")
    expect(owner.get_by_test_id("kb-row")).to_have_count(len(kb))
    owner.wait_for_timeout(300)
    owner.screenshot(path=str(SCREENSHOTS / "knowledge-base-1366x768.png"))
    assert watch.dialogs == []
    assert watch.errors == []


KB_CSV = (
    "question,answer,phrasings,category\n"
    "支持开发票吗？,支持，下单时填写抬头即可。,能开发票吗|开票,售后退换\n"
    "没有答案的问题,,,\n"
    "可以货到付款吗？,暂不支持货到付款。,,\n"
).encode()


def test_bot_2_import_reports_rejected_lines_and_export_downloads(
    server: Server, new_page: Any, watch: Watch
) -> None:
    empty_knowledge_base(server)
    owner = new_page(base=server.base)
    login(owner, server, "owner", online=False)
    open_settings(owner, server, "kb")
    owner.get_by_test_id("kb-import").click()
    imp = owner.get_by_test_id("import-dialog")
    imp.get_by_test_id("import-file").set_input_files(
        {"name": "kb.csv", "mimeType": "text/csv", "buffer": KB_CSV}
    )
    expect(imp.get_by_test_id("import-file-name")).to_contain_text("kb.csv")
    imp.get_by_test_id("import-start").click()
    expect(imp.get_by_test_id("import-progress")).to_be_visible()
    rows = imp.get_by_test_id("import-rejected").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").first).to_have_text("3")
    imp.get_by_test_id("import-close").click()
    expect(owner.get_by_test_id("kb-row")).to_have_count(2)
    field(owner, "kb-search").fill("发票")
    expect(owner.get_by_test_id("kb-row-question")).to_have_text(["支持开发票吗？"])

    owner.get_by_test_id("kb-export").click()
    with owner.expect_download() as download:
        owner.locator("[data-testid=kb-export-csv]:visible").click()
    path = download.value.path()
    assert "支持开发票吗？" in path.read_text("utf-8-sig")
    assert watch.dialogs == []
    assert watch.errors == []
