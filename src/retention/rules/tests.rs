use super::*;

fn input(category: &str, start: &str, period: &str) -> RuleInput {
    RuleInput {
        category: category.into(),
        channel: None,
        start: start.into(),
        end_of_year: false,
        period: period.into(),
        legal_basis: "test".into(),
        deletion_class: None,
        class: None,
        ground: None,
        norm: None,
        statutory: false,
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn periods_parse_iso_8601_and_refuse_the_rest() {
    assert_eq!(Period::parse("p", "P6Y").unwrap(), Period::years(6));
    assert_eq!(Period::parse("p", "P90D").unwrap(), Period::days(90));
    assert_eq!(Period::parse("p", "P2W").unwrap(), Period::days(14));
    let p = Period::parse("p", "P1Y6MT12H").unwrap();
    assert_eq!((p.years, p.months, p.days, p.hours), (1, 6, 0, 12));
    assert_eq!(Period::parse("p", "PT48H").unwrap().iso(), "PT48H");
    for bad in [
        "", "6Y", "P", "PT", "P6", "PY", "P6D6Y", "P1Y1Y", "P1H", "P999999Y", "forever",
    ] {
        assert!(Period::parse("p", bad).is_err(), "{bad}");
    }
}

#[test]
fn a_rule_without_period_is_refused_and_keep_must_be_explicit() {
    let err = RuleSet::parse(&[input("message_content", "collection", "")]).unwrap_err();
    assert!(err.to_string().contains("keep"), "{err}");
    let set = RuleSet::parse(&[input("message_content", "collection", "keep")]).unwrap();
    assert_eq!(set.rules[0].retain, Retain::Keep);
    assert_eq!(set.rules[0].cutoff(at("2026-01-01T00:00:00Z")), None);
}

#[test]
fn categories_accept_only_their_start_points_and_scopes() {
    assert!(RuleSet::parse(&[input("consent_proofs", "collection", "P1Y")]).is_err());
    assert!(RuleSet::parse(&[input("delivery_statuses", "conversation_end", "P1Y")]).is_err());
    let mut scoped = input("webhook_logs", "collection", "P1Y");
    scoped.channel = Some("whatsapp".into());
    assert!(RuleSet::parse(&[scoped]).is_err());
    let err = RuleSet::parse(&[input("audit_log", "collection", "P10Y")]).unwrap_err();
    assert!(err.to_string().contains("audit_retention_years"), "{err}");
    let twice = [
        input("attachments", "collection", "P1Y"),
        input("attachments", "collection", "P2Y"),
    ];
    assert!(RuleSet::parse(&twice).is_err());
    let mut missing_basis = input("attachments", "collection", "P1Y");
    missing_basis.legal_basis = " ".into();
    assert!(RuleSet::parse(&[missing_basis]).is_err());
}

#[test]
fn cutoff_after_collection_is_exact() {
    let set = RuleSet::parse(&[input("delivery_statuses", "collection", "P90D")]).unwrap();
    let now = at("2026-06-30T12:00:00Z");
    let cutoff = set.rules[0].cutoff(now).unwrap();
    let due = to_micros(at("2026-04-01T12:00:00Z"));
    assert!(due < cutoff.before, "exactly 90 days old is due");
    assert!(due + 1 >= cutoff.before, "a microsecond younger is not");
}

#[test]
fn end_of_calendar_year_counts_from_the_first_of_january_after() {
    let mut hgb = input("message_content", "collection", "P6Y");
    hgb.end_of_year = true;
    let set = RuleSet::parse(&[hgb]).unwrap();
    let rule = &set.rules[0];
    // A message of 15 March 2019: the period starts 1 Jan 2020 and ends 1 Jan 2026.
    let message = to_micros(at("2019-03-15T10:00:00Z"));
    let last_day = rule.cutoff(at("2025-12-31T23:59:59Z")).unwrap();
    assert!(message >= last_day.before, "still kept on 31 Dec 2025");
    let new_year = rule.cutoff(at("2026-01-01T00:00:00Z")).unwrap();
    assert!(message < new_year.before, "due on 1 Jan 2026");
    // A message of 31 Dec 2019 is due one year later than one of 1 Jan 2019? No: same
    // year, same deadline; one of 1 Jan 2020 waits a year longer.
    let next_year = to_micros(at("2020-01-01T00:00:00Z"));
    assert!(next_year >= new_year.before);
}

#[test]
fn effective_set_fills_in_defaults_and_channel_rules_come_first() {
    let mut wa = input("message_content", "collection", "P1Y");
    wa.channel = Some("whatsapp".into());
    let set = RuleSet::parse(&[wa]).unwrap().effective();
    let content = set.for_category(Category::MessageContent);
    assert_eq!(content.len(), 3);
    assert!(
        content[0].business_letters && content[0].ground == Ground::Statutory,
        "business letters first, under the statutory default"
    );
    assert!(content[1].channel.is_some(), "then the channel's own rule");
    assert!(content[2].channel.is_none(), "the default covers the rest");
    assert_eq!(
        set.rule_for(Category::MessageContent, "whatsapp", true)
            .unwrap()
            .ground,
        Ground::Statutory,
        "a WhatsApp business letter follows the business-letter rule"
    );
    assert!(set
        .rule_for(Category::MessageContent, "whatsapp", false)
        .unwrap()
        .channel
        .is_some());
    for category in Category::ALL {
        assert!(!set.for_category(category).is_empty(), "{category:?}");
    }
}

#[test]
fn grounds_are_a_closed_set_and_keeping_ones_name_their_norm() {
    let with = |ground: &str, norm: Option<&str>, period: &str| {
        let mut r = input("message_content", "collection", period);
        r.ground = Some(ground.into());
        r.norm = norm.map(str::to_string);
        RuleSet::parse(&[r])
    };
    let set = with("statutory", Some("§ 257 HGB"), "P6Y").unwrap();
    assert_eq!(set.rules[0].ground, Ground::Statutory);
    assert_eq!(
        set.rules[0].citation(crate::i18n::Lang::De),
        "Art. 17 Abs. 3 lit. b DSGVO (gesetzliche Aufbewahrungspflicht) i. V. m. § 257 HGB"
    );
    for (ground, field) in [("statutory", "norm"), ("contractual_or_bylaw", "norm")] {
        let err = with(ground, None, "P6Y").unwrap_err().to_string();
        assert!(err.contains(&format!("rules[0].{field}")), "{err}");
        let err = with(ground, Some("  "), "P6Y").unwrap_err().to_string();
        assert!(err.contains("rules[0].norm"), "{err}");
    }
    assert!(
        with("legal_claims", None, "P3Y").is_ok(),
        "a norm is optional for legal claims"
    );
    let err = with("statutory", Some("§ 257 HGB"), "keep")
        .unwrap_err()
        .to_string();
    assert!(err.contains("rules[0].period"), "{err}");
    let err = with("because", None, "P1Y").unwrap_err().to_string();
    assert!(
        err.contains("rules[0].ground") && err.contains("legal_claims"),
        "{err}"
    );
    assert_eq!(
        RuleSet::parse(&[input("message_content", "collection", "P1Y")])
            .unwrap()
            .rules[0]
            .ground,
        Ground::None,
        "no ground: erased on request"
    );
}

#[test]
fn stored_rules_with_the_old_statutory_flag_still_load() {
    let mut old = input("message_content", "collection", "P6Y");
    old.statutory = true;
    old.legal_basis = "§ 257 HGB".into();
    let set = RuleSet::parse(&[old.clone()]).unwrap();
    assert_eq!(set.rules[0].ground, Ground::Statutory);
    assert_eq!(set.rules[0].norm.as_deref(), Some("§ 257 HGB"));
    let json = set.canonical_json();
    assert!(
        json.contains("\"ground\":\"statutory\"") && !json.contains("\"statutory\":"),
        "{json}"
    );
    // "keep" with the old flag loads too; an erasure asks the DPO to decide.
    old.period = "keep".into();
    assert!(RuleSet::parse(&[old]).is_ok());
}

#[test]
fn defaults_cite_the_right_grounds() {
    let set = defaults();
    let proofs = &set.for_category(Category::ConsentProofs)[0];
    assert_eq!(proofs.ground, Ground::LegalClaims);
    assert!(
        !proofs.legal_basis.contains("UWG"),
        "{}",
        proofs.legal_basis
    );
    assert!(!proofs.citation(crate::i18n::Lang::De).contains("35"));
    let content = &set.for_category(Category::MessageContent)[0];
    assert!(content.business_letters);
    assert_eq!(content.ground, Ground::Statutory);
    assert!(content
        .citation(crate::i18n::Lang::En)
        .starts_with("Art. 17(3)(b) GDPR"));
    let statuses = &set.for_category(Category::DeliveryStatuses)[0];
    assert_eq!(statuses.ground, Ground::None);
}
