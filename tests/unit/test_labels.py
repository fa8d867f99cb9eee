"""Issue 15, escaped twice: a button label or a toast is plain text (Telegram never parses it), so it
comes from `_.label`, never from `_()` (which renders HTML); a rendered line put into another message is
not escaped again."""
from __future__ import annotations

import ast
from pathlib import Path

from bot.i18n import I18n, Label, Raw

BOT = Path(__file__).resolve().parents[2] / "bot"
# The calls whose text is a button label: aiogram's builder and button types, the quiz keyboard's local
# `button(text, …)`, and `confirm_kb(_, yes_text, …)`.
LABEL_CALLS = {"button", "InlineKeyboardButton", "KeyboardButton"}
LABEL_ARGS = {"confirm_kb": 1, "button": 0}  # positional label arguments


def _is_html_render(node: ast.expr) -> bool:
    """`_("…")`, `i18n.t(…)` or `translator(…)(…)`: a call that renders a message in HTML."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "_") or (isinstance(func, ast.Attribute) and func.attr == "t")


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def html_labels(source: str) -> list[int]:
    """Lines where a button's label is rendered as HTML."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        labels = [kw.value for kw in node.keywords if kw.arg == "text" and name in LABEL_CALLS]
        if name in LABEL_ARGS and len(node.args) > LABEL_ARGS[name]:
            labels.append(node.args[LABEL_ARGS[name]])
        labels += [kw.value for kw in node.keywords if kw.arg == "yes_text"]
        for label in labels:
            parts = [label.left, label.right] if isinstance(label, ast.BinOp) else [label]
            if isinstance(label, ast.IfExp):
                parts = [label.body, label.orelse]
            if any(_is_html_render(p) for p in parts):
                found.append(node.lineno)
    for node in ast.walk(ast.parse(source)):  # a toast: `callback_answer.text = _(…)` (never parsed either)
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = (list(zip(target.elts, node.value.elts, strict=False))
                         if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) else
                         [(target, node.value)])
                if any(isinstance(t, ast.Attribute) and t.attr == "text" and _is_html_render(v) for t, v in pairs):
                    found.append(node.lineno)
    return found


def test_scan_finds_a_label_rendered_as_html():
    """The scan itself: each way a label was built with `_()` on main is found."""
    assert html_labels('kb.button(text=_("members.btn_open", n=1, name=m.name), callback_data=x)') == [1]
    assert html_labels('InlineKeyboardButton(text=_("bank.btn_prev"), callback_data=x)') == [1]
    assert html_labels('confirm_kb(_, _("orgmenu.btn_dissolve_yes"), yes, no)') == [1]
    assert html_labels('rows.append([button(_("quiz.btn_submit"), "s")])') == [1]
    assert html_labels('kb.button(text=i18n.t(code, "lang.name"), callback_data=x)') == [1]
    assert html_labels('kb.button(text=_.label("members.btn_open", n=1, name=m.name), callback_data=x)') == []
    assert html_labels('await message.edit_text(text=_("quiz.question"))') == []
    assert html_labels('callback_answer.text = _("invite.revoked", number=1)') == [1]
    assert html_labels('callback_answer.text, callback_answer.show_alert = _("errors.stale_button"), True') == [1]
    assert html_labels('callback_answer.text = _.label("invite.revoked", number=1)') == []


def test_issue15_no_button_label_is_rendered_as_html():
    offenders = []
    for path in sorted(BOT.rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        offenders += [f"{path.relative_to(BOT.parent)}:{line}" for line in html_labels(path.read_text("utf-8"))]
    assert offenders == [], "button labels and toasts come from _.label(...), not _(...): " + ", ".join(offenders)


def test_issue15_rendered_lines_are_not_escaped_again():
    tr = I18n().translator("zh")
    line = tr("branches.line", indent="", name="研发&测试党支部", kind=tr("branches.kind_branch"), members=3)
    assert isinstance(line, Raw) and "研发&amp;测试党支部" in line
    page = tr("branches.title", org="某组织", body=tr.join("\n", [line, line]))
    assert "研发&amp;测试党支部" in page and "&amp;amp;" not in page
    nested = tr("orgmenu.upper", upper=tr("orgmenu.admin_main", name="<b>"))
    assert "&lt;b&gt;" in nested and "&amp;lt;" not in nested


def test_issue15_join_escapes_plain_pieces_once():
    tr = I18n().translator("zh")
    joined = tr.join("、", [tr("orgmenu.admin_main", name="A&B"), "C<D"])
    assert "A&amp;B" in joined and "C&lt;D" in joined and "&amp;amp;" not in joined


def test_issue15_error_toast_is_plain_text():
    from bot.errors import DomainError
    from bot.middlewares import error_text

    i18n = I18n()
    exc = DomainError("cert.has_lower", org="研发&测试", count=1, names="<b>")
    toast = error_text(i18n, "zh", exc, toast=True)
    assert "研发&测试" in toast and "&amp;" not in toast and "&lt;" not in toast
    assert "研发&amp;测试" in error_text(i18n, "zh", exc)  # the message form stays HTML


def test_issue15_label_is_plain_and_escaped_as_a_message_parameter():
    tr = I18n().translator("en")
    label = tr.label("certify.btn_apply", org="<b>&")
    assert isinstance(label, Label) and "<b>&" in label
    assert "&lt;b&gt;&amp;" in tr("certify.note_line", note=label)
