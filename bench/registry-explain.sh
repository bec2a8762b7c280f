#!/usr/bin/env bash
# Where a registry request's database time goes, before and after `vault_registry`: the
# queries `GET /vaults` and `GET /vaults/summary` ran for a manager of composante 901 before
# (vaults ⋈ students, enrolments semi-join, terms semi-join, sorted per request) and run now
# (one range of a `vault_registry` index), on a database `bench/registry.sh` filled.
#
#   bench/registry-explain.sh sqlite /tmp/w/sqlite-60000/passerelle.db
#   bench/registry-explain.sh postgres postgres://passerelle:passerelle@127.0.0.1:5432/passerelle_bench
#
# SQLite: the plan (EXPLAIN QUERY PLAN) and the best of 5 runs (sqlite3 .timer);
# PostgreSQL: EXPLAIN (ANALYZE, BUFFERS), second run (warm cache).
set -euo pipefail
backend=$1 target=$2
C="(SELECT student_id FROM enrolments WHERE composante = '901')"
T="(SELECT student_id FROM student_terms WHERE term >= 'lefevre' AND term < 'lefevrf')"
J="FROM vaults JOIN students ON students.id = vaults.student_id WHERE vaults.student_id IN $C"
R="FROM vault_registry r JOIN vaults v ON v.id = r.vault_id JOIN students s ON s.id = v.student_id WHERE r.composante = '901'"
SUM="COALESCE(SUM(CASE WHEN vaults.status = 'active' THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN vaults.status = 'not_transmitted' THEN 1 ELSE 0 END), 0)"
while IFS='|' read -r name sql; do
  echo "### $name"
  echo "$sql"
  if [ "$backend" = sqlite ]; then
    sqlite3 "$target" "EXPLAIN QUERY PLAN $sql" | sed 's/^/  plan: /'
    for _ in 1 2 3 4 5; do printf ".timer on\n%s;\n" "$sql" | sqlite3 "$target" 2>&1 | grep -o "real [0-9.]*"; done \
      | sort -k2 -n | head -1 | sed 's/^/  best of 5: /'
  else
    psql -qtA "$target" -c "$sql" >/dev/null
    psql -qtA "$target" -c "EXPLAIN (ANALYZE, BUFFERS) $sql" | sed 's/^/  /'
  fi
done <<QUERIES
before: first page|SELECT vaults.id $J ORDER BY students.search_name, students.cod_etu LIMIT 50
before: its total|SELECT count(*) $J
before: name search page|SELECT vaults.id $J AND students.id IN $T ORDER BY students.search_name, students.cod_etu LIMIT 50
before: name search total|SELECT count(*) $J AND students.id IN $T
before: status page|SELECT vaults.id $J AND vaults.status IN ('not_transmitted') ORDER BY students.search_name, students.cod_etu LIMIT 50
before: status total|SELECT count(*) $J AND vaults.status IN ('not_transmitted')
before: summary|SELECT $SUM $J
after: first page|SELECT v.id $R ORDER BY r.search_name, r.cod_etu LIMIT 50
after: its total|SELECT count(*) FROM vault_registry WHERE composante = '901'
after: name search page|SELECT v.id $R AND r.words LIKE '% lefevre%' ORDER BY r.search_name, r.cod_etu LIMIT 50
after: name search total|SELECT count(*) FROM vault_registry WHERE composante = '901' AND words LIKE '% lefevre%'
after: status page|SELECT v.id $R AND r.status IN ('not_transmitted') ORDER BY r.search_name, r.cod_etu LIMIT 50
after: status total|SELECT count(*) FROM vault_registry WHERE composante = '901' AND status IN ('not_transmitted')
registry: summary, counted|SELECT status, count(*) FROM vault_registry WHERE composante = '901' GROUP BY status
registry: summary, its queued subscriptions|SELECT count(*) FROM vault_registry WHERE composante = '901' AND vault_id IN (SELECT subject_id FROM jobs WHERE kind = 'vault_subscribe' AND status IN ('pending', 'running'))
after: summary, stored counts|SELECT status, vaults, queued FROM vault_registry_counts WHERE composante = '901'
QUERIES
