"""Which customer company an unknown sender belongs to, by e-mail domain. Plain Python, no ORM."""

# Public mailbox providers: a sender from these domains is never attached to a company by domain.
FREE_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "hotmail.co.uk",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "t-online.de",
        "web.de",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "163.com",
    }
)


def email_domain(email):
    """Lower-case domain of an address (``"Ann <ann@Contoso.com>"`` -> ``"contoso.com"``), or ``""``."""
    email = (email or "").strip()
    if "<" in email and ">" in email:
        email = email[email.rindex("<") + 1 : email.rindex(">")]
    if email.count("@") != 1:
        return ""
    return email.split("@")[1].strip().strip(".").lower()


def is_free_mail(domain, extra_free=()):
    return domain in FREE_MAIL_DOMAINS or domain in {d.strip().lower() for d in extra_free if d.strip()}


def company_domains(company_email, declared_domains):
    """The domains a company claims: its own e-mail's domain plus the comma-separated ones declared."""
    domains = {d.strip().lstrip("@").lower() for d in (declared_domains or "").split(",") if d.strip()}
    own = email_domain(company_email)
    if own:
        domains.add(own)
    return domains


def match_company(sender_email, companies, extra_free=()):
    """Pick the company of a sender. ``companies`` is a list of (company id, set of domains).

    Returns ``(company id or None, reason)``: None for free-mail, unknown or ambiguous domains.
    """
    domain = email_domain(sender_email)
    if not domain:
        return None, "no valid sender address"
    if is_free_mail(domain, extra_free):
        return None, f"{domain} is a free-mail domain"
    matches = sorted({company_id for company_id, domains in companies if domain in domains})
    if not matches:
        return None, f"no customer uses the domain {domain}"
    if len(matches) > 1:
        return None, f"several customers use the domain {domain}"
    return matches[0], f"the domain {domain} belongs to the customer"
