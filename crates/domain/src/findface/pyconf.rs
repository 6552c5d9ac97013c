//! A small reader for findface-security's `config.py`: Python source that is, in practice, a list of
//! `NAME = <literal>` assignments plus a few `INSTALLED_APPS.append(...)` lines. It understands
//! what those files use (comments, strings in either quote style with escapes and implicit or `+`
//! concatenation, numbers, True/False/None, lists, tuples, nested dicts, trailing commas, line
//! continuations) and nothing more; Python itself is never run. A value it can read but not
//! evaluate (a function call, an unknown name) becomes [`Value::Opaque`] so the caller can report
//! the key; a syntax error stops the read with the line it is on.

use std::collections::BTreeMap;
use std::fmt;

/// A Python literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<Value>),
    /// Keys in source order; a key repeated later wins, as in Python.
    Dict(Vec<(String, Value, usize)>),
    /// Something valid but not a literal (a call, a name we do not know); the text says what.
    Opaque(String),
}

/// One top-level statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `NAME = value` (also `NAME += value`, `augmented` then).
    Assign { name: String, value: Value, line: usize, augmented: bool },
    /// `NAME.method(args)`, e.g. `INSTALLED_APPS.append('ffsecurity_genetec')`.
    Call { target: String, method: String, args: Vec<Value>, line: usize },
    /// `import x` / `from x import y`.
    Import { line: usize },
}

/// A syntax error, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Int(i64),
    Float(f64),
    Punct(&'static str),
    /// End of a logical line (never emitted inside brackets).
    Newline,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

const PUNCTS: [&str; 14] = ["+=", "=", "(", ")", "[", "]", "{", "}", ",", ":", ".", "+", "-", ";"];

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError { line, message: message.into() })
}

fn tokenize(source: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // Open brackets with the line each was opened on (for "never closed" errors).
    let mut depth: Vec<(char, usize)> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                if depth.is_empty() && tokens.last().is_some_and(|t: &Token| t.tok != Tok::Newline) {
                    tokens.push(Token { tok: Tok::Newline, line });
                }
                line += 1;
                i += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            // Line continuation (also with Windows line ends).
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                line += 1;
                i += 2;
            }
            '\\' if chars.get(i + 1) == Some(&'\r') && chars.get(i + 2) == Some(&'\n') => {
                line += 1;
                i += 3;
            }
            c if c.is_whitespace() => i += 1,
            '\'' | '"' => {
                let (text, next, lines) = read_string(&chars, i, line)?;
                tokens.push(Token { tok: Tok::Str(text), line });
                line += lines;
                i = next;
            }
            c if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || chars[i] == '_'
                        || ((chars[i] == '+' || chars[i] == '-') && matches!(chars[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let raw: String = chars[start..i].iter().filter(|c| **c != '_').collect();
                let tok = if let Ok(n) = raw.parse::<i64>() {
                    Tok::Int(n)
                } else if let Some(n) = raw.strip_prefix("0x").and_then(|h| i64::from_str_radix(h, 16).ok()) {
                    Tok::Int(n)
                } else if let Ok(f) = raw.parse::<f64>() {
                    Tok::Float(f)
                } else {
                    return err(line, format!("cannot read the number {raw:?}"));
                };
                tokens.push(Token { tok, line });
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // String prefixes: r'..', u'..', b'..' read as plain strings (f-strings are refused).
                if matches!(chars.get(i), Some('\'' | '"')) {
                    match word.to_ascii_lowercase().as_str() {
                        "r" | "u" => {
                            let (text, next, lines) = if word.eq_ignore_ascii_case("r") {
                                read_raw_string(&chars, i, line)?
                            } else {
                                read_string(&chars, i, line)?
                            };
                            tokens.push(Token { tok: Tok::Str(text), line });
                            line += lines;
                            i = next;
                            continue;
                        }
                        _ => return err(line, format!("{word}'...' strings are not supported; write a plain string")),
                    }
                }
                tokens.push(Token { tok: Tok::Name(word), line });
            }
            _ => {
                let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) else {
                    return err(line, format!("unexpected character {c:?}"));
                };
                match *p {
                    "(" | "[" | "{" => depth.push((c, line)),
                    ")" | "]" | "}" => {
                        let open = match *p {
                            ")" => '(',
                            "]" => '[',
                            _ => '{',
                        };
                        match depth.pop() {
                            Some((o, _)) if o == open => {}
                            Some((o, opened)) => {
                                return err(line, format!("{p:?} closes the {o:?} opened on line {opened}"));
                            }
                            None => return err(line, format!("{p:?} closes nothing")),
                        }
                    }
                    _ => {}
                }
                tokens.push(Token { tok: Tok::Punct(p), line });
                i += p.len();
            }
        }
    }
    if let Some((open, opened)) = depth.first() {
        return err(*opened, format!("{open:?} is never closed"));
    }
    if tokens.last().is_some_and(|t| t.tok != Tok::Newline) {
        tokens.push(Token { tok: Tok::Newline, line });
    }
    Ok(tokens)
}

/// Reads a quoted string starting at `start` (the quote); returns its value, the index after it and
/// how many newlines it spans (triple-quoted strings may).
fn read_string(chars: &[char], start: usize, line: usize) -> Result<(String, usize, usize), SyntaxError> {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    let mut out = String::new();
    let mut lines = 0;
    loop {
        let Some(&c) = chars.get(i) else {
            return err(line, "string is never closed");
        };
        if c == quote && (!triple || (chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote))) {
            return Ok((out, i + if triple { 3 } else { 1 }, lines));
        }
        match c {
            '\n' if !triple => return err(line, "string is never closed on its line"),
            '\n' => {
                lines += 1;
                out.push(c);
                i += 1;
            }
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return err(line, "string is never closed");
                };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    '\\' | '\'' | '"' => out.push(e),
                    '\n' => lines += 1,
                    other => {
                        // Python keeps unknown escapes as written.
                        out.push('\\');
                        out.push(other);
                    }
                }
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

fn read_raw_string(chars: &[char], start: usize, line: usize) -> Result<(String, usize, usize), SyntaxError> {
    let quote = chars[start];
    let mut i = start + 1;
    let mut out = String::new();
    while let Some(&c) = chars.get(i) {
        if c == quote {
            return Ok((out, i + 1, 0));
        }
        if c == '\n' {
            break;
        }
        out.push(c);
        i += 1;
    }
    err(line, "string is never closed on its line")
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    /// Top-level names assigned so far, so `A = B` and `"x" + B` resolve like Python would.
    names: BTreeMap<String, Value>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn line(&self) -> usize {
        self.peek().or_else(|| self.tokens.last()).map_or(1, |t| t.line)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Token { tok: Tok::Punct(q), .. }) if *q == p) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str, context: &str) -> Result<(), SyntaxError> {
        if self.eat(p) {
            return Ok(());
        }
        let line = self.line();
        err(line, format!("expected {p:?} {context}, found {}", self.describe_next()))
    }

    fn describe_next(&self) -> String {
        match self.peek().map(|t| &t.tok) {
            None => "the end of the file".into(),
            Some(Tok::Newline) => "the end of the line".into(),
            Some(Tok::Name(n)) => format!("{n:?}"),
            Some(Tok::Str(s)) => format!("the string {s:?}"),
            Some(Tok::Int(n)) => format!("the number {n}"),
            Some(Tok::Float(n)) => format!("the number {n}"),
            Some(Tok::Punct(p)) => format!("{p:?}"),
        }
    }

    fn statement(&mut self) -> Result<Option<Statement>, SyntaxError> {
        let Some(first) = self.next() else { return Ok(None) };
        let line = first.line;
        let stmt = match first.tok {
            Tok::Newline => return Ok(None),
            Tok::Punct(";") => return Ok(None),
            Tok::Name(word) if word == "import" || word == "from" => {
                while !matches!(self.peek().map(|t| &t.tok), Some(Tok::Newline) | None) {
                    self.at += 1;
                }
                Statement::Import { line }
            }
            Tok::Name(word)
                if matches!(
                    word.as_str(),
                    "if" | "elif" | "else" | "for" | "while" | "def" | "class" | "try" | "with" | "del"
                ) =>
            {
                return err(line, format!("`{word}` statements are not supported: write the settings out flat"));
            }
            Tok::Name(name) => {
                if self.eat("=") {
                    let value = self.expression()?;
                    if matches!(self.peek().map(|t| &t.tok), Some(Tok::Punct("="))) {
                        return err(line, "chained assignment (A = B = ...) is not supported");
                    }
                    self.names.insert(name.clone(), value.clone());
                    Statement::Assign { name, value, line, augmented: false }
                } else if self.eat("+=") {
                    let value = self.expression()?;
                    Statement::Assign { name, value, line, augmented: true }
                } else if self.eat(".") {
                    let Some(Token { tok: Tok::Name(method), .. }) = self.next() else {
                        return err(line, format!("expected a method name after {name:?}."));
                    };
                    self.expect("(", &format!("after {name}.{method}"))?;
                    let args = self.sequence(")")?;
                    Statement::Call { target: name, method, args, line }
                } else if self.eat("[") {
                    return err(line, format!("item assignment ({name}[...] = ...) is not supported; edit the dict"));
                } else {
                    return err(line, format!("expected \"=\" after {name:?}, found {}", self.describe_next()));
                }
            }
            _ => {
                self.at -= 1;
                return err(line, format!("a statement cannot start with {}", self.describe_next()));
            }
        };
        match self.next().map(|t| t.tok) {
            None | Some(Tok::Newline) | Some(Tok::Punct(";")) => Ok(Some(stmt)),
            Some(_) => {
                self.at -= 1;
                let line = self.line();
                err(line, format!("unexpected {} after the statement (a missing comma?)", self.describe_next()))
            }
        }
    }

    /// `a + b + ...`; strings and lists concatenate, numbers add.
    fn expression(&mut self) -> Result<Value, SyntaxError> {
        let line = self.line();
        let mut value = self.unary()?;
        while self.eat("+") {
            let right = self.unary()?;
            value = match (value, right) {
                (Value::Str(a), Value::Str(b)) => Value::Str(a + &b),
                (Value::List(mut a), Value::List(b)) => {
                    a.extend(b);
                    Value::List(a)
                }
                (Value::Int(a), Value::Int(b)) => Value::Int(a.saturating_add(b)),
                (Value::Opaque(a), _) | (_, Value::Opaque(a)) => Value::Opaque(a),
                (a, b) => return err(line, format!("cannot add {} and {}", kind(&a), kind(&b))),
            };
        }
        Ok(value)
    }

    fn unary(&mut self) -> Result<Value, SyntaxError> {
        if self.eat("-") {
            let line = self.line();
            return match self.unary()? {
                Value::Int(n) => Ok(Value::Int(-n)),
                Value::Float(f) => Ok(Value::Float(-f)),
                other => err(line, format!("cannot negate {}", kind(&other))),
            };
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Value, SyntaxError> {
        let line = self.line();
        let Some(token) = self.next() else {
            return err(line, "expected a value, found the end of the file");
        };
        let value = match token.tok {
            Tok::Str(mut s) => {
                // Adjacent literals concatenate: 'a' 'b' == 'ab'.
                while let Some(Token { tok: Tok::Str(more), .. }) = self.peek() {
                    s.push_str(more);
                    self.at += 1;
                }
                Value::Str(s)
            }
            Tok::Int(n) => Value::Int(n),
            Tok::Float(f) => Value::Float(f),
            Tok::Name(n) if n == "True" => Value::Bool(true),
            Tok::Name(n) if n == "False" => Value::Bool(false),
            Tok::Name(n) if n == "None" => Value::None,
            Tok::Name(n) => self.name_value(n)?,
            Tok::Punct("[") => Value::List(self.sequence("]")?),
            Tok::Punct("(") => {
                // A parenthesised expression, or a tuple (read as a list).
                if self.eat(")") {
                    return Ok(Value::List(Vec::new()));
                }
                let first = self.expression()?;
                if self.eat(")") {
                    first
                } else {
                    self.expect(",", "in a tuple")?;
                    let mut items = vec![first];
                    items.extend(self.sequence(")")?);
                    Value::List(items)
                }
            }
            Tok::Punct("{") => self.dict()?,
            Tok::Newline => return err(token.line, "expected a value, found the end of the line"),
            Tok::Punct(p) => return err(token.line, format!("expected a value, found {p:?}")),
        };
        Ok(value)
    }

    /// A bare name: a setting assigned earlier, or (with a call or attribute) something we cannot
    /// evaluate, such as `os.environ.get('X')`.
    fn name_value(&mut self, name: String) -> Result<Value, SyntaxError> {
        let mut text = name;
        loop {
            if self.eat(".") {
                let line = self.line();
                let Some(Token { tok: Tok::Name(attr), .. }) = self.next() else {
                    return err(line, format!("expected a name after {text:?}."));
                };
                text = format!("{text}.{attr}");
            } else if self.eat("(") {
                let _ = self.sequence(")")?;
                return Ok(Value::Opaque(format!("the call {text}(...)")));
            } else if self.eat("[") {
                let _ = self.sequence("]")?;
                text = format!("{text}[...]");
            } else {
                break;
            }
        }
        Ok(self.names.get(&text).cloned().unwrap_or(Value::Opaque(format!("the name {text}"))))
    }

    /// Comma-separated expressions up to `close`, a trailing comma allowed.
    fn sequence(&mut self, close: &str) -> Result<Vec<Value>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            // Keyword arguments of a call (`f(x=1)`) are skipped with their value.
            if close == ")"
                && matches!(self.peek().map(|t| &t.tok), Some(Tok::Name(_)))
                && matches!(self.tokens.get(self.at + 1).map(|t| &t.tok), Some(Tok::Punct("=")))
            {
                self.at += 2;
            }
            items.push(self.expression()?);
            if !self.eat(",") {
                self.expect(close, "or \",\" between items")?;
                return Ok(items);
            }
        }
    }

    fn dict(&mut self) -> Result<Value, SyntaxError> {
        let mut entries: Vec<(String, Value, usize)> = Vec::new();
        loop {
            if self.eat("}") {
                return Ok(Value::Dict(entries));
            }
            let line = self.line();
            let key = match self.expression()? {
                Value::Str(s) => s,
                Value::Int(n) => n.to_string(),
                other => return err(line, format!("dict keys must be strings, found {}", kind(&other))),
            };
            self.expect(":", &format!("after the dict key {key:?}"))?;
            let value = self.expression()?;
            entries.retain(|(k, _, _)| *k != key);
            entries.push((key, value, line));
            if !self.eat(",") {
                self.expect("}", "or \",\" between dict entries")?;
                return Ok(Value::Dict(entries));
            }
        }
    }
}

pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Str(_) => "a string",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::None => "None",
        Value::List(_) => "a list",
        Value::Dict(_) => "a dict",
        Value::Opaque(_) => "an expression",
    }
}

/// Reads the whole file into its statements, or the first syntax error.
pub fn parse(source: &str) -> Result<Vec<Statement>, SyntaxError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser { tokens: &tokens, at: 0, names: BTreeMap::new() };
    let mut statements = Vec::new();
    while parser.peek().is_some() {
        if let Some(statement) = parser.statement()? {
            statements.push(statement);
        }
    }
    Ok(statements)
}
