# max-throughput's shape at fixed rates, both brokers, three times uncapped and under a quarter
# of a core, alternating; run from the repository root. Each run's summary.md is kept here.
for k in 1 2 3; do
  npx tsx bench/suite.ts --workloads reports/broker/capped-lead-checks/fixed-20k.json,reports/broker/capped-lead-checks/fixed-100k.json --http-seconds 0 --out /tmp/fixed-rate --stamp uncapped-$k
  npx tsx bench/suite.ts --workloads reports/broker/capped-lead-checks/fixed-20k.json,reports/broker/capped-lead-checks/fixed-100k.json --http-seconds 0 --broker-cpu 0.25 --out /tmp/fixed-rate --stamp capped-$k
done
