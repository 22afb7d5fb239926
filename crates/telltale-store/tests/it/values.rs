//! Raw values round-trip bit for bit whether they are stored as INTEGER
//! hundredths or as REALs, and databases whose `samples.value` was declared
//! `REAL` keep working.

use crate::common::*;
use telltale_model::Timestamp;
use telltale_store::{SampleQuery, SeriesQuery, WriteBatch};

const VALUES: [f64; 12] = [
    12.34,
    -3.25,
    0.0,
    97.0,
    0.1 + 0.2,
    1.0 / 3.0,
    1e20,
    -1e-9,
    123_456_789.01,
    5e13,
    f64::MAX,
    2.675,
];

async fn write_and_read(path: &std::path::Path) -> Vec<f64> {
    let store = open(path);
    let f = add_feed(&store, "v");
    let mut batch = WriteBatch::new();
    for (i, v) in VALUES.iter().enumerate() {
        batch.samples.push(sample(f, "x", T0 + i as i64 * SEC, *v));
    }
    store.send(batch).await.unwrap();
    store.flush().await.unwrap();
    let got: Vec<f64> = store
        .samples(&SampleQuery {
            feed_id: f,
            from: None,
            until: None,
            after: None,
            limit: 100,
        })
        .unwrap()
        .into_iter()
        .map(|s| s.value)
        .collect();
    let series = store.list_series(f).unwrap();
    assert_eq!(series[0].last_value, VALUES.last().copied());
    // One point per raw sample: min = max = the value.
    let points = store
        .query_series(&SeriesQuery {
            series_id: series[0].id,
            from: Timestamp(T0),
            to: Timestamp(T0 + 20 * SEC),
            max_points: 1000,
        })
        .unwrap()
        .points;
    let mins: Vec<f64> = points.iter().map(|p| p.min).collect();
    assert_eq!(mins, got);
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    // Values with at most two decimals (12.34, -3.25, 0, 97, 123456789.01,
    // 5e13) are stored compactly, the others as REALs.
    assert_round_trip(&path, 6).await;
}

/// Writes [`VALUES`], reads them back bit for bit, and checks how many were
/// stored as INTEGER hundredths.
async fn assert_round_trip(path: &std::path::Path, integers: i64) {
    let got = write_and_read(path).await;
    assert_eq!(
        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        VALUES.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let c = raw(path);
    assert_eq!(
        scalar(
            &c,
            "SELECT count(*) FROM samples WHERE typeof(value) = 'integer'"
        ),
        integers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_with_a_real_value_column_keeps_reals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // Create the database, then turn its samples table into the old
    // declaration, as databases created before compact values have it.
    drop(open(&path));
    let c = raw(&path);
    c.execute_batch(
        "DROP VIEW samples_abs;
         DROP TABLE samples;
         CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
             value REAL NOT NULL, PRIMARY KEY (series_id, ts)) WITHOUT ROWID;",
    )
    .unwrap();
    drop(c);
    assert_round_trip(&path, 0).await;
}
