"""Daily sales by product and region: the seed's standard-cluster job, runnable on the local cluster.

As in the seed: read the raw sales, keep the last day's orders, aggregate quantity, revenue and order
count per product and region, stamp the processing date, overwrite the output. Changed for local runs:
the input is CSV (no Delta Lake on the local cluster), and paths and the as-of date are parameters so a
run is reproducible. `abfss://` paths work unchanged: the local cluster maps them to its workspace folder.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

import pyspark.sql.functions as F
from pyspark.sql import SparkSession
from pyspark.sql.types import DateType, DoubleType, IntegerType, StringType, StructField, StructType

SCHEMA = StructType(
    [
        StructField("order_id", StringType(), False),
        StructField("order_date", DateType(), False),
        StructField("product_id", StringType(), False),
        StructField("region", StringType(), False),
        StructField("quantity", IntegerType(), False),
        StructField("revenue", DoubleType(), False),
    ]
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", default="abfss://data@datalake.dfs.core.windows.net/raw/sales/")
    parser.add_argument(
        "--output", default="abfss://data@datalake.dfs.core.windows.net/processed/daily_sales/"
    )
    parser.add_argument("--as-of", default=date.today().isoformat())
    return parser.parse_args(argv)


def publish(rows: list) -> None:
    """Task values for downstream tasks (on the local cluster and on Databricks alike)."""
    dbutils = globals().get("dbutils")
    if dbutils is None:
        return
    dbutils.jobs.taskValues.set("record_count", len(rows))
    dbutils.jobs.taskValues.set(
        "totals",
        {
            f"{r['product_id']}/{r['region']}": [
                r["total_quantity"],
                round(r["total_revenue"], 2),
                r["order_count"],
            ]
            for r in rows
        },
    )


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    as_of = date.fromisoformat(args.as_of)
    spark = (
        SparkSession.builder.appName("StandardJobCluster")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        .getOrCreate()
    )
    try:
        df = spark.read.option("header", "true").schema(SCHEMA).csv(args.input)
        processed = (
            df.filter(F.col("order_date") >= F.lit(as_of - timedelta(days=1)))
            .groupBy("product_id", "region")
            .agg(
                F.sum("quantity").alias("total_quantity"),
                F.sum("revenue").alias("total_revenue"),
                F.count("order_id").alias("order_count"),
            )
            .withColumn("processing_date", F.lit(as_of))
        )
        processed.write.mode("overwrite").parquet(args.output)
        written = spark.read.parquet(args.output).collect()
        print(f"Successfully processed {len(written)} records")
        context = spark.sparkContext
        print(
            f"master={context.master} app={context.appName} "
            f"aqe={spark.conf.get('spark.sql.adaptive.enabled')} "
            f"shuffle_partitions={spark.conf.get('spark.sql.shuffle.partitions')}"
        )
        publish([row.asDict() for row in written])
    except Exception as e:
        print(f"Job failed with error: {e}")
        sys.exit(1)
    finally:
        spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
