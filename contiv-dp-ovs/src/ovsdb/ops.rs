//! Transaction operations (RFC 7047 §5.2) and their results.

use super::OvsdbError;
use super::value::{Row, Uuid, Value, row_from_json, row_to_json};
use serde_json::{Map, Value as Json, json};
use std::time::Duration;

/// Condition functions (`"where"` clauses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `includes` (sets and maps).
    Includes,
    /// `excludes` (sets and maps).
    Excludes,
}

impl Function {
    fn as_str(self) -> &'static str {
        match self {
            Function::Lt => "<",
            Function::Le => "<=",
            Function::Eq => "==",
            Function::Ne => "!=",
            Function::Ge => ">=",
            Function::Gt => ">",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }
}

/// One `[column, function, value]` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Column name (`_uuid` for the row id).
    pub column: String,
    /// Comparison.
    pub function: Function,
    /// Operand.
    pub value: Value,
}

impl Condition {
    /// `column == value`.
    pub fn eq(column: &str, value: Value) -> Condition {
        Condition {
            column: column.to_owned(),
            function: Function::Eq,
            value,
        }
    }

    /// `_uuid == uuid`.
    pub fn uuid(u: &Uuid) -> Condition {
        Self::eq("_uuid", Value::uuid(u.clone()))
    }

    /// `column includes value`.
    pub fn includes(column: &str, value: Value) -> Condition {
        Condition {
            column: column.to_owned(),
            function: Function::Includes,
            value,
        }
    }

    fn to_json(&self) -> Json {
        json!([self.column, self.function.as_str(), self.value.to_json()])
    }
}

/// Mutators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutator {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
    /// `%=`
    Mod,
    /// `insert` into a set or map.
    Insert,
    /// `delete` from a set or map.
    Delete,
}

impl Mutator {
    fn as_str(self) -> &'static str {
        match self {
            Mutator::Add => "+=",
            Mutator::Sub => "-=",
            Mutator::Mul => "*=",
            Mutator::Div => "/=",
            Mutator::Mod => "%=",
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
        }
    }
}

/// One `[column, mutator, value]` mutation.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    /// Column name.
    pub column: String,
    /// Mutator.
    pub mutator: Mutator,
    /// Operand.
    pub value: Value,
}

impl Mutation {
    /// `column insert value`.
    pub fn insert(column: &str, value: Value) -> Mutation {
        Mutation {
            column: column.to_owned(),
            mutator: Mutator::Insert,
            value,
        }
    }

    /// `column delete value`.
    pub fn delete(column: &str, value: Value) -> Mutation {
        Mutation {
            column: column.to_owned(),
            mutator: Mutator::Delete,
            value,
        }
    }

    /// `column += n`.
    pub fn add(column: &str, n: i64) -> Mutation {
        Mutation {
            column: column.to_owned(),
            mutator: Mutator::Add,
            value: Value::int(n),
        }
    }

    fn to_json(&self) -> Json {
        json!([self.column, self.mutator.as_str(), self.value.to_json()])
    }
}

/// The `until` of a wait operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitUntil {
    /// Wait until the selected rows equal the given rows.
    Equal,
    /// Wait until they differ.
    NotEqual,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Insert a row; `uuid_name` lets later operations refer to it.
    Insert {
        /// Table.
        table: String,
        /// Column values (others get defaults).
        row: Row,
        /// Name for `["named-uuid", name]` references.
        uuid_name: Option<String>,
    },
    /// Select rows.
    Select {
        /// Table.
        table: String,
        /// Conditions (all must hold; empty = all rows).
        conditions: Vec<Condition>,
        /// Columns to return (`None` = all).
        columns: Option<Vec<String>>,
    },
    /// Update columns of matching rows.
    Update {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// New column values.
        row: Row,
    },
    /// Mutate columns of matching rows.
    Mutate {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// Mutations.
        mutations: Vec<Mutation>,
    },
    /// Delete matching rows.
    Delete {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
    },
    /// Block (up to `timeout`) until the selected rows, projected on
    /// `columns`, are (or are not) exactly `rows`; fails the transaction
    /// on timeout. `Duration::ZERO` makes it a precondition check.
    Wait {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// Columns compared.
        columns: Vec<String>,
        /// Equal or not equal.
        until: WaitUntil,
        /// The expected rows.
        rows: Vec<Row>,
        /// Maximum wait (`None` = forever).
        timeout: Option<Duration>,
    },
    /// Commit durably (or not).
    Commit {
        /// Wait for the data to reach disk.
        durable: bool,
    },
    /// Abort the transaction (always fails it).
    Abort,
    /// A comment recorded in the database log.
    Comment(String),
    /// Require holding a lock.
    Assert {
        /// Lock name.
        lock: String,
    },
}

fn conds(c: &[Condition]) -> Json {
    Json::Array(c.iter().map(Condition::to_json).collect())
}

impl Operation {
    /// Insert `row` into `table`, naming it `uuid_name`.
    pub fn insert(table: &str, row: Row, uuid_name: Option<&str>) -> Operation {
        Operation::Insert {
            table: table.to_owned(),
            row,
            uuid_name: uuid_name.map(str::to_owned),
        }
    }

    /// Select `columns` (all if `None`) of rows matching `conditions`.
    pub fn select(table: &str, conditions: Vec<Condition>, columns: Option<&[&str]>) -> Operation {
        Operation::Select {
            table: table.to_owned(),
            conditions,
            columns: columns.map(|c| c.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Update rows matching `conditions`.
    pub fn update(table: &str, conditions: Vec<Condition>, row: Row) -> Operation {
        Operation::Update {
            table: table.to_owned(),
            conditions,
            row,
        }
    }

    /// Mutate rows matching `conditions`.
    pub fn mutate(table: &str, conditions: Vec<Condition>, mutations: Vec<Mutation>) -> Operation {
        Operation::Mutate {
            table: table.to_owned(),
            conditions,
            mutations,
        }
    }

    /// Delete rows matching `conditions`.
    pub fn delete(table: &str, conditions: Vec<Condition>) -> Operation {
        Operation::Delete {
            table: table.to_owned(),
            conditions,
        }
    }

    /// The RFC 7047 JSON object.
    pub fn to_json(&self) -> Json {
        let mut o = Map::new();
        let mut put = |k: &str, v: Json| {
            o.insert(k.to_owned(), v);
        };
        match self {
            Operation::Insert {
                table,
                row,
                uuid_name,
            } => {
                put("op", json!("insert"));
                put("table", json!(table));
                put("row", row_to_json(row));
                if let Some(n) = uuid_name {
                    put("uuid-name", json!(n));
                }
            }
            Operation::Select {
                table,
                conditions,
                columns,
            } => {
                put("op", json!("select"));
                put("table", json!(table));
                put("where", conds(conditions));
                if let Some(c) = columns {
                    put("columns", json!(c));
                }
            }
            Operation::Update {
                table,
                conditions,
                row,
            } => {
                put("op", json!("update"));
                put("table", json!(table));
                put("where", conds(conditions));
                put("row", row_to_json(row));
            }
            Operation::Mutate {
                table,
                conditions,
                mutations,
            } => {
                put("op", json!("mutate"));
                put("table", json!(table));
                put("where", conds(conditions));
                put(
                    "mutations",
                    Json::Array(mutations.iter().map(Mutation::to_json).collect()),
                );
            }
            Operation::Delete { table, conditions } => {
                put("op", json!("delete"));
                put("table", json!(table));
                put("where", conds(conditions));
            }
            Operation::Wait {
                table,
                conditions,
                columns,
                until,
                rows,
                timeout,
            } => {
                put("op", json!("wait"));
                put("table", json!(table));
                put("where", conds(conditions));
                put("columns", json!(columns));
                put(
                    "until",
                    json!(match until {
                        WaitUntil::Equal => "==",
                        WaitUntil::NotEqual => "!=",
                    }),
                );
                put("rows", Json::Array(rows.iter().map(row_to_json).collect()));
                if let Some(t) = timeout {
                    put("timeout", json!(t.as_millis() as u64));
                }
            }
            Operation::Commit { durable } => {
                put("op", json!("commit"));
                put("durable", json!(durable));
            }
            Operation::Abort => put("op", json!("abort")),
            Operation::Comment(c) => {
                put("op", json!("comment"));
                put("comment", json!(c));
            }
            Operation::Assert { lock } => {
                put("op", json!("assert"));
                put("lock", json!(lock));
            }
        }
        Json::Object(o)
    }

    /// A short description for error messages (`insert into Bridge`).
    pub fn describe(&self) -> String {
        match self {
            Operation::Insert { table, .. } => format!("insert into {table}"),
            Operation::Select { table, .. } => format!("select from {table}"),
            Operation::Update { table, .. } => format!("update of {table}"),
            Operation::Mutate { table, .. } => format!("mutate of {table}"),
            Operation::Delete { table, .. } => format!("delete from {table}"),
            Operation::Wait { table, .. } => format!("wait on {table}"),
            Operation::Commit { .. } => "commit".into(),
            Operation::Abort => "abort".into(),
            Operation::Comment(_) => "comment".into(),
            Operation::Assert { lock } => format!("assert of lock {lock}"),
        }
    }
}

/// The result of one successful operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpResult {
    /// The new row's UUID (insert).
    pub uuid: Option<Uuid>,
    /// Rows affected (update, mutate, delete).
    pub count: Option<u64>,
    /// Rows returned (select).
    pub rows: Option<Vec<Row>>,
}

impl OpResult {
    /// Parses one element of a transact result array (not an error one).
    pub fn from_json(j: &Json) -> Result<OpResult, OvsdbError> {
        let o = j.as_object().ok_or_else(|| {
            OvsdbError::Protocol(format!("operation result is not an object: {j}"))
        })?;
        let uuid = match o.get("uuid") {
            Some(u) => Some(
                Value::from_json(u)?
                    .as_uuid()
                    .cloned()
                    .ok_or_else(|| OvsdbError::Protocol(format!("bad uuid in result: {u}")))?,
            ),
            None => None,
        };
        let count = o.get("count").and_then(Json::as_u64);
        let rows = match o.get("rows") {
            Some(Json::Array(rs)) => Some(rs.iter().map(row_from_json).collect::<Result<_, _>>()?),
            Some(other) => {
                return Err(OvsdbError::Protocol(format!(
                    "rows is not an array: {other}"
                )));
            }
            None => None,
        };
        Ok(OpResult { uuid, count, rows })
    }

    /// The selected rows (empty if none).
    pub fn rows(&self) -> &[Row] {
        self.rows.as_deref().unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_serialise_per_rfc7047() {
        let mut row = Row::new();
        row.insert("name".into(), Value::string("br0"));
        let ops = [
            (
                Operation::insert("Bridge", row.clone(), Some("br")),
                json!({"op":"insert","table":"Bridge","row":{"name":"br0"},"uuid-name":"br"}),
            ),
            (
                Operation::select(
                    "Bridge",
                    vec![Condition::eq("name", Value::string("br0"))],
                    Some(&["_uuid"]),
                ),
                json!({"op":"select","table":"Bridge","where":[["name","==","br0"]],"columns":["_uuid"]}),
            ),
            (
                Operation::mutate(
                    "Open_vSwitch",
                    vec![],
                    vec![Mutation::insert(
                        "bridges",
                        Value::set([Value::named_uuid("br").as_atom().unwrap().clone()]),
                    )],
                ),
                json!({"op":"mutate","table":"Open_vSwitch","where":[],"mutations":[["bridges","insert",["set",[["named-uuid","br"]]]]]}),
            ),
            (
                Operation::Wait {
                    table: "Bridge".into(),
                    conditions: vec![Condition::eq("name", Value::string("br0"))],
                    columns: vec!["name".into()],
                    until: WaitUntil::Equal,
                    rows: vec![],
                    timeout: Some(Duration::ZERO),
                },
                json!({"op":"wait","table":"Bridge","where":[["name","==","br0"]],"columns":["name"],"until":"==","rows":[],"timeout":0}),
            ),
            (
                Operation::Comment("hi".into()),
                json!({"op":"comment","comment":"hi"}),
            ),
            (
                Operation::Commit { durable: false },
                json!({"op":"commit","durable":false}),
            ),
        ];
        for (op, want) in ops {
            assert_eq!(op.to_json(), want);
        }
    }
}
