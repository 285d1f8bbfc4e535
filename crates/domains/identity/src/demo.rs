//! The demo shop's customers (issue 15): generated accounts with the dates they signed up, for a
//! history of a few weeks. They have no password (nobody signs in as them); the demo's named
//! accounts are made through [`crate::Identity::create_user`] as any other.

use lsn_db::Db;

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: i64,
}

const ROWS_PER_STATEMENT: usize = 200;

/// Inserts the customers in one transaction; how many.
pub async fn customers(db: &Db, customers: Vec<Customer>) -> Result<usize, lsn_db::Error> {
    let n = customers.len();
    db.transaction_with(customers, |tx, customers| {
        Box::pin(async move {
            for chunk in customers.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "INSERT INTO users (id, email, name, role, status, created_at, updated_at) VALUES {}",
                    (0..chunk.len())
                        .map(|i| format!(
                            "({}, 'customer', 'active', ${}, ${})",
                            lsn_ops::jobs::placeholders(1 + i * 4, 3, 1),
                            4 + i * 4,
                            4 + i * 4
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let mut q = lsn_db::query(&sql);
                for c in chunk {
                    q = q.bind(&c.id).bind(&c.email).bind(&c.name).bind(c.created_at);
                }
                q.execute(&mut **tx).await?;
            }
            Ok::<_, lsn_db::Error>(())
        })
    })
    .await?;
    Ok(n)
}
