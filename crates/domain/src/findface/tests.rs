#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::pyconf::{self, Statement, Value};
use super::*;

const SEED_CONFIG: &str = include_str!("testdata/seed_config.py");

fn outcome<'a>(conversion: &'a Conversion, key: &str) -> &'a Entry {
    conversion.report.iter().find(|e| e.key == key).unwrap_or_else(|| panic!("{key} not in the report"))
}

#[test]
fn the_fixture_holds_every_code_line_of_the_seed() {
    let seed_path = std::path::Path::new("/work/shared/seed/findface-security.txt");
    // The seed lives outside the repository; without it the fixture stands on its own.
    let Ok(seed) = std::fs::read_to_string(seed_path) else { return };
    let fixture: Vec<&str> = SEED_CONFIG.lines().map(str::trim).collect();
    let code_lines = seed.lines().map(str::trim).filter(|l| {
        l.starts_with('\'') || l.starts_with('"') || l.starts_with('#') || l.contains(" = ") || l.contains(".append(")
    });
    for line in code_lines.filter(|l| !l.starts_with("'EVENTS_FEATURES'") || l.ends_with(',')) {
        assert!(fixture.contains(&line), "the seed's line {line:?} is not in testdata/seed_config.py");
    }
}

#[test]
fn the_seed_example_converts_and_loads() {
    let conversion = convert(SEED_CONFIG).unwrap();
    let table = &conversion.table;
    assert_eq!(table["MEDIA_ROOT"].as_str(), Some("/var/lib/ffsecurity/uploads"));
    assert_eq!(table["DEBUG"].as_bool(), Some(false));
    assert_eq!(table["SECRET_KEY"].as_str(), Some("c8b533847bbf7142102de1349d33a1f6"));
    assert_eq!(table["DATABASES"]["default"]["NAME"].as_str(), Some("ffsecurity"));
    assert_eq!(table["DATABASES"]["default"]["ENGINE"].as_str(), Some("django.db.backends.postgresql"));
    let ff = &table["FFSECURITY"];
    assert_eq!(ff["VIDEO_DETECTOR_TOKEN"].as_str(), Some("381b0f4a20495227d04185ab02f5085f"));
    assert_eq!(ff["EVENTS_MAX_AGE"].as_integer(), Some(30));
    assert_eq!(ff["MINIMUM_DOSSIER_QUALITY"].as_float(), Some(-2.0));
    assert_eq!(ff["EVENTS_FEATURES"].as_array().map(Vec::len), Some(5));
    assert_eq!(table["SERVER"]["port"].as_integer(), Some(8002));
    assert_eq!(table["SERVER"]["host"].as_str(), Some("localhost"));

    assert_eq!(outcome(&conversion, "FFSECURITY.VIDEO_DETECTOR_TOKEN").line, 28);
    assert_eq!(outcome(&conversion, "UVICORN_SETTINGS.port").outcome, Outcome::Mapped { to: "SERVER.port".into() });
    for ignored in ["FFSECURITY_UI_CONFIG", "INSTALLED_APPS.append(ffsecurity_genetec)", "FFSECURITY.START_COUNTER"] {
        assert!(matches!(outcome(&conversion, ignored).outcome, Outcome::Ignored { .. }), "{ignored}");
    }
    assert!(conversion.complete(), "{:#?}", conversion.report);

    let config = conversion.check("config.py", Service::Ingest).unwrap();
    assert_eq!(config.ffsecurity.confidence_threshold, 0.75);
    // The rendered file is what `config check` reads back.
    let rendered = conversion.render("config.py").unwrap();
    let reread: toml::Table = rendered.parse().unwrap();
    assert_eq!(reread, conversion.table);
    assert!(rendered.contains("#   config.py:67: INSTALLED_APPS.append(ffsecurity_genetec): ignored"), "{rendered}");
}

#[test]
fn python_quirks_are_read() {
    let source = r#"
A = 'single' "double"  # adjacent literals
B = ('con'
     'cat' + "enated")
C = {'x': [1, 2.5, -3,], "y": (True, False, None), 'z': {'n': {},},}
D = '''triple
quoted'''
E = r'c:\path'
F = 'it\'s'
G = A
H = 1_000 + \
    2
INSTALLED_APPS += ['x']
import os
X = os.environ.get('SECRET', 'dev')
"#;
    let statements = pyconf::parse(source).unwrap();
    let value = |name: &str| {
        statements
            .iter()
            .find_map(|s| match s {
                Statement::Assign { name: n, value, .. } if n == name => Some(value.clone()),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(value("A"), Value::Str("singledouble".into()));
    assert_eq!(value("B"), Value::Str("concatenated".into()));
    let Value::Dict(c) = value("C") else { panic!("C is no dict") };
    assert_eq!(c[0].1, Value::List(vec![Value::Int(1), Value::Float(2.5), Value::Int(-3)]));
    assert_eq!(c[1].1, Value::List(vec![Value::Bool(true), Value::Bool(false), Value::None]));
    assert_eq!(c[2].2, 5);
    assert_eq!(value("D"), Value::Str("triple\nquoted".into()));
    assert_eq!(value("E"), Value::Str("c:\\path".into()));
    assert_eq!(value("F"), Value::Str("it's".into()));
    assert_eq!(value("G"), Value::Str("singledouble".into()));
    assert_eq!(value("H"), Value::Int(1002));
    assert!(matches!(value("X"), Value::Opaque(_)));
}

#[test]
fn windows_line_ends_are_read() {
    let conversion = convert("DEBUG = \\\r\n    True\r\nFFSECURITY = {\r\n  'EVENTS_MAX_AGE': 7,\r\n}\r\n").unwrap();
    assert_eq!(conversion.table["DEBUG"].as_bool(), Some(true));
    assert_eq!(outcome(&conversion, "FFSECURITY.EVENTS_MAX_AGE").line, 4);
}

#[test]
fn unknown_keys_and_values_are_reported_with_their_lines() {
    let source = "\
FFSECURITY = {
    'CONFIDENCE_THRESHOLD': 'high',
    'NO_SUCH_KEY': 1,
    'VIDEO_DETECTOR_TOKEN': os.environ['TOKEN'],
}
WHATEVER = 3
";
    let conversion = convert(source).unwrap();
    assert!(!conversion.complete());
    let lines = conversion.report_lines("config.py");
    for expected in [
        "config.py:2: FFSECURITY.CONFIDENCE_THRESHOLD: NOT UNDERSTOOD: expected float, found a string",
        "config.py:3: FFSECURITY.NO_SUCH_KEY: NOT UNDERSTOOD: no ffsec setting FFSECURITY.NO_SUCH_KEY",
        "config.py:6: WHATEVER: NOT UNDERSTOOD: no ffsec setting of this name",
    ] {
        assert!(lines.iter().any(|l| l == expected), "missing {expected:?} in {lines:#?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("config.py:4: FFSECURITY.VIDEO_DETECTOR_TOKEN: NOT UNDERSTOOD")));
}

#[test]
fn out_of_range_values_fail_the_check() {
    let conversion = convert("FFSECURITY = {'CONFIDENCE_THRESHOLD': 7}").unwrap();
    let error = conversion.check("config.py", Service::Gateway).unwrap_err().to_string();
    assert!(error.contains("FFSECURITY.CONFIDENCE_THRESHOLD"), "{error}");
}

#[test]
fn malformed_input_names_the_line() {
    for (source, line, needle) in [
        ("A = 1\nB = {\n  'x': 1\n", 2, "'{' is never closed"),
        ("A = 1\nB = {'x': 1 'y': 2}\n", 2, "expected \"}\" or \",\" between dict entries"),
        ("A = 1\n\nB = 'open\n", 3, "string is never closed"),
        ("A = [1, 2}\n", 1, "\"}\" closes the '[' opened on line 1"),
        ("A = 1\nif DEBUG:\n    B = 2\n", 2, "`if` statements are not supported"),
        ("A = 1\nB 2\n", 2, "expected \"=\" after \"B\""),
        ("A = {\n  'x': 1,\n  'y' 2,\n}\n", 3, "expected \":\" after the dict key \"y\""),
        ("A = f'{x}'\n", 1, "f'...' strings are not supported"),
        ("A = 1 2\n", 1, "unexpected the number 2 after the statement"),
        ("A = @\n", 1, "unexpected character '@'"),
        ("A = (1,\n2,\n3))\n", 3, "\")\" closes nothing"),
    ] {
        let error = convert(source).unwrap_err();
        assert_eq!(error.line, line, "{source:?}: {error}");
        assert!(error.message.contains(needle), "{source:?}: {error}");
    }
}
