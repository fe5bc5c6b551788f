"""Example flows: Acme, the reference every test and notebook uses, and common IVR patterns."""

from __future__ import annotations

from .flow import Flow

__all__ = ["EXAMPLES", "acme", "business_hours", "language_select", "support_menu"]

SORRY = "Sorry, that is not a valid choice."


def acme() -> Flow:
    """Acme: sales by transfer, an order number collected, read back and confirmed."""
    flow = Flow("acme", description="Acme's front desk: sales, or check an order by its number.")
    flow.menu(
        "main",
        [
            "Welcome to Acme.",
            "Press 1 for sales.",
            "Press 2 to enter your order number.",
            "Press 9 to hear this again.",
        ],
        keys={"1": "sales", "2": "order", "9": "main", "invalid": "main_invalid"},
    )
    flow.transfer("sales", phone="+918000000001")
    flow.collect(
        "order",
        ["Please enter your order number followed by star"],
        "order",
        terminator="*",
        then="confirm",
    )
    flow.say("main_invalid", SORRY, then="main")
    flow.menu(
        "confirm",
        ["You entered {order}.", "Press 1 to confirm.", "Press 2 to re-enter."],
        keys={"1": "thanks", "2": "order", "invalid": "confirm_invalid"},
    )
    flow.hangup("thanks", ["Thank you.", "Your order {order} is on its way."])
    flow.say("confirm_invalid", SORRY, then="confirm")
    return flow


def business_hours() -> Flow:
    """Open hours go to reception; after hours and holidays get a message and a hang-up."""
    flow = Flow("business_hours", description="Weekday office hours in India, holidays closed.")
    flow.branch(
        "hours",
        [
            {
                "outcome": "open",
                "test": "hours",
                "tz": "Asia/Kolkata",
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "09:00",
                "end": "18:00",
                "holidays": ["2026-12-25", "2027-01-26"],
            }
        ],
        outcomes={"open": "reception", "default": "closed"},
    )
    flow.transfer("reception", teams=[101])
    flow.hangup(
        "closed",
        [
            "Thank you for calling.",
            "We are closed now. Our hours are nine to six, Monday to Friday.",
            "Please call again, or leave us an email. Goodbye.",
        ],
    )
    return flow


def support_menu() -> Flow:
    """A two-level support menu with "press 0 for an operator" everywhere and a retry limit."""
    flow = Flow("support", description="Support lines, an operator one key away at every level.")
    flow.menu(
        "main",
        [
            "Welcome to support.",
            "Press 1 for billing.",
            "Press 2 for technical help.",
            "Press 0 for an operator.",
        ],
        keys={
            "1": "billing",
            "2": "tech",
            "0": "operator",
            "invalid": "main_retry",
            "gave_up": "operator",
        },
        max_invalid=3,
    )
    flow.say("main_retry", SORRY, then="main")
    flow.menu(
        "billing",
        ["Billing.", "Press 1 for a copy of your invoice.", "Press 0 for an operator."],
        keys={"1": "invoice", "0": "operator", "invalid": "billing_retry"},
    )
    flow.say("billing_retry", SORRY, then="billing")
    flow.hangup("invoice", ["Your latest invoice has been sent to your email. Goodbye."])
    flow.menu(
        "tech",
        [
            "Technical help.",
            "Press 1 for internet.",
            "Press 2 for phone lines.",
            "Press 0 for an operator.",
        ],
        keys={"1": "internet", "2": "lines", "0": "operator", "invalid": "tech_retry"},
    )
    flow.say("tech_retry", SORRY, then="tech")
    flow.transfer("internet", teams=[201])
    flow.transfer("lines", teams=[202])
    flow.transfer("operator", phone="+918000000000")
    return flow


def language_select() -> Flow:
    """Language first: the choice is kept in a variable and a branch routes on it."""
    flow = Flow("language", description="Choose English or Hindi, then hear the greeting in it.")
    flow.collect(
        "choose",
        ["For English, press 1 and then hash.", "हिंदी के लिए 2 और फिर हैश दबाएं।"],
        "lang",
        terminator="#",
        max_length=1,
        pattern="[12]",
        then="route",
    )
    flow.branch(
        "route",
        [{"outcome": "hindi", "test": "equals", "subject": "lang", "value": "2"}],
        outcomes={"hindi": "hindi", "default": "english"},
    )
    flow.hangup("english", ["Welcome. All our lines are busy; we will call you back."])
    flow.hangup("hindi", ["स्वागत है। हमारी सभी लाइनें व्यस्त हैं; हम आपको वापस कॉल करेंगे।"])
    return flow


#: Every example flow by name, for notebooks, tests and `exported/`.
EXAMPLES = {
    "acme": acme,
    "business_hours": business_hours,
    "support": support_menu,
    "language": language_select,
}
