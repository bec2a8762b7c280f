#!/usr/bin/env bash
# A registry of STUDENTS students (6,000 per composante 901, 902…) written straight into a fresh
# database with the migrations applied by psql/sqlite3 — no build needed — for
# bench/registry-explain.sh. Names from 20 French last names × 20 first names (each last name
# ≈ 5 % of a composante), one student in five `active`, the others `not_transmitted`.
#
#   bench/registry-seed.sh sqlite /tmp/registry.db 60000
#   bench/registry-seed.sh postgres postgres://passerelle:passerelle@127.0.0.1:5432/passerelle_bench 300000
#
# PostgreSQL: the database's public schema is dropped and recreated.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
backend=$1 target=$2 n=${3:-60000}
c=$(( n / 6000 > 0 ? n / 6000 : 1 ))
if [ "$backend" = sqlite ]; then
  rm -f "$target"
  for d in "$ROOT"/migrations/sqlite/*/; do sqlite3 "$target" <"$d/up.sql"; done
  series="WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < $n)"
  run() { sqlite3 "$target" "$1"; }
  ts="'2025-09-01 00:00:00'"
else
  PGOPTIONS=--client-min-messages=warning psql -q "$target" -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public"
  for d in "$ROOT"/migrations/postgres/*/; do PGOPTIONS=--client-min-messages=warning psql -q -v ON_ERROR_STOP=1 "$target" -f "$d/up.sql" >/dev/null; done
  series="WITH g(x) AS (SELECT generate_series(1, $n))"
  run() { psql -qtA -v ON_ERROR_STOP=1 "$target" -c "$1"; }
  ts="TIMESTAMP '2025-09-01 00:00:00'"
fi
names="ln(i, last, folded) AS (VALUES (0,'LEFÈVRE','lefevre'),(1,'MARTIN','martin'),(2,'DUPONT','dupont'),(3,'GARÇON','garcon'),(4,'MÜLLER','muller'),(5,'BERNARD','bernard'),(6,'FAURÉ','faure'),(7,'NGUYEN','nguyen'),(8,'ROUSSEAU','rousseau'),(9,'CHÂTELAIN','chatelain'),(10,'BENOÎT','benoit'),(11,'MOREAU','moreau'),(12,'OUÉDRAOGO','ouedraogo'),(13,'DIALLO','diallo'),(14,'PETIT','petit'),(15,'LEFEBVRE','lefebvre'),(16,'DURAND','durand'),(17,'LAMBERT','lambert'),(18,'FONTAINE','fontaine'),(19,'ROBERT','robert')),
fn(i, first, folded) AS (VALUES (0,'Zoé','zoe'),(1,'Chloé','chloe'),(2,'Anaïs','anais'),(3,'François','francois'),(4,'Jérôme','jerome'),(5,'Noël','noel'),(6,'Hélène','helene'),(7,'Maëlle','maelle'),(8,'Gaëlle','gaelle'),(9,'Éloïse','eloise'),(10,'Léo','leo'),(11,'Inès','ines'),(12,'Raphaël','raphael'),(13,'Cécile','cecile'),(14,'Joël','joel'),(15,'Aurélien','aurelien'),(16,'Bérénice','berenice'),(17,'Loïc','loic'),(18,'Agnès','agnes'),(19,'Timothée','timothee'))"
start=$(date +%s%N)
run "$series, c(x) AS (SELECT x FROM g WHERE x <= $c) INSERT INTO composantes (code, label, created_at, updated_at) SELECT CAST(900 + x AS TEXT), 'Composante', $ts, $ts FROM c"
run "$series, $names INSERT INTO students (id, cod_etu, ine, last_name, first_name, search_name, created_at, updated_at)
     SELECT 's' || x, CAST(30000000 + x AS TEXT), 'INE' || x, ln.last, fn.first, ln.folded || ' ' || fn.folded, $ts, $ts
     FROM g JOIN ln ON ln.i = (x * 7) % 20 JOIN fn ON fn.i = (x / 20 * 3 + x) % 20"
run "$series, $names INSERT INTO student_terms (term, student_id)
     SELECT CAST(30000000 + x AS TEXT), 's' || x FROM g
     UNION ALL SELECT ln.folded, 's' || x FROM g JOIN ln ON ln.i = (x * 7) % 20
     UNION ALL SELECT fn.folded, 's' || x FROM g JOIN fn ON fn.i = (x / 20 * 3 + x) % 20"
run "$series INSERT INTO enrolments (student_id, academic_year, etape, composante, state, created_at, updated_at)
     SELECT 's' || x, 2025, 'L1INF', CAST(901 + ((x - 1) / 6000) % $c AS TEXT), 'E', $ts, $ts FROM g"
run "$series INSERT INTO vaults (id, student_id, status, accepted, personalised, created_at, updated_at, status_changed_at)
     SELECT 'v' || x, 's' || x, CASE WHEN x % 5 = 0 THEN 'active' ELSE 'not_transmitted' END, FALSE, FALSE, $ts, $ts, $ts FROM g"
if [ "$backend" = sqlite ]; then run "ANALYZE"; else run "VACUUM (ANALYZE) students, student_terms, enrolments, vaults, vault_registry"; fi
echo "$backend: $n students in $c composantes seeded in $(( ($(date +%s%N) - start) / 1000000 )) ms; registry rows: $(run "SELECT count(*) FROM vault_registry" | tr -d ' \n')"
