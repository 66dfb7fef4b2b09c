"""A SQLite store as CashUp wrote it at schema v7 (candle versions, before `candle_stats.version`): the literal
DDL of that release's `store/schema_sql.py`, so migration tests start from the exact shape of users' files."""

from __future__ import annotations

V7_MIGRATIONS = ((1, 'initial schema'), (2, 'state, optimisation trials, funding rates'), (3, 'account keys on orders, fills, positions, balances, risk state'), (4, 'orders.version for compare-and-set writes'), (5, 'candle_stats: per-series span, rows and gaps'), (6, 'fills index on account, mode and time'), (7, 'candle_versions: per-series versions for the column cache'))

V7_DDL = (
    'CREATE TABLE schema_version (\n\tversion INTEGER NOT NULL, \n\tdescription VARCHAR NOT NULL, \n\tapplied_ms INTEGER NOT NULL, \n\tPRIMARY KEY (version)\n)',
    'CREATE TABLE instruments (\n\tsymbol VARCHAR NOT NULL, \n\tquanto_multiplier TEXT NOT NULL, \n\tprice_tick TEXT NOT NULL, \n\tsize_step TEXT NOT NULL, \n\tmin_size TEXT NOT NULL, \n\tmax_size TEXT NOT NULL, \n\tleverage_min TEXT NOT NULL, \n\tleverage_max TEXT NOT NULL, \n\tmaintenance_rate TEXT NOT NULL, \n\tmaker_fee_rate TEXT NOT NULL, \n\ttaker_fee_rate TEXT NOT NULL, \n\tprice_deviate TEXT NOT NULL, \n\torders_limit INTEGER NOT NULL, \n\tfunding_interval_s INTEGER NOT NULL, \n\tsettle VARCHAR NOT NULL, \n\tin_delisting BOOLEAN NOT NULL, \n\tupdated_ms INTEGER NOT NULL, \n\tPRIMARY KEY (symbol)\n)',
    'CREATE TABLE candles (\n\tsymbol VARCHAR NOT NULL, \n\ttimeframe VARCHAR NOT NULL, \n\topen_ms INTEGER NOT NULL, \n\topen FLOAT NOT NULL, \n\thigh FLOAT NOT NULL, \n\tlow FLOAT NOT NULL, \n\tclose FLOAT NOT NULL, \n\tvolume FLOAT NOT NULL, \n\tPRIMARY KEY (symbol, timeframe, open_ms)\n)\n WITHOUT ROWID\n\n',
    "CREATE TABLE order_events (\n\tseq INTEGER NOT NULL, \n\tclient_id VARCHAR NOT NULL, \n\tkind VARCHAR NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\tvenue_order_id VARCHAR, \n\ttrade_id VARCHAR, \n\tfill TEXT, \n\treason VARCHAR NOT NULL, \n\tnew_price TEXT, \n\tnew_size TEXT, \n\tmode VARCHAR NOT NULL, \n\trecorded_ms INTEGER NOT NULL, account VARCHAR NOT NULL DEFAULT 'default', \n\tPRIMARY KEY (seq)\n)",
    'CREATE INDEX ix_order_events_client_seq ON order_events (client_id, seq)',
    'CREATE TABLE backtest_runs (\n\tid INTEGER NOT NULL, \n\tfingerprint VARCHAR NOT NULL, \n\tstrategy VARCHAR NOT NULL, \n\tsymbol VARCHAR NOT NULL, \n\ttimeframe VARCHAR NOT NULL, \n\tengine VARCHAR NOT NULL, \n\tparams TEXT, \n\tmetrics TEXT, \n\tstatus VARCHAR NOT NULL, \n\terror VARCHAR NOT NULL, \n\tdata_start_ms INTEGER NOT NULL, \n\tdata_end_ms INTEGER NOT NULL, \n\tstarted_ms INTEGER NOT NULL, \n\tfinished_ms INTEGER NOT NULL, \n\tcash TEXT NOT NULL, \n\tPRIMARY KEY (id)\n)',
    'CREATE INDEX ix_backtest_runs_fingerprint ON backtest_runs (fingerprint)',
    'CREATE TABLE backtest_trades (\n\tid INTEGER NOT NULL, \n\trun_id INTEGER, \n\tsymbol VARCHAR NOT NULL, \n\tside VARCHAR NOT NULL, \n\tsize TEXT NOT NULL, \n\tentry_ms INTEGER NOT NULL, \n\tentry_price TEXT NOT NULL, \n\texit_ms INTEGER, \n\texit_price TEXT, \n\tpnl TEXT NOT NULL, \n\tfees TEXT NOT NULL, \n\treason VARCHAR NOT NULL, \n\tPRIMARY KEY (id), \n\tFOREIGN KEY(run_id) REFERENCES backtest_runs (id) ON DELETE CASCADE\n)',
    'CREATE INDEX ix_backtest_trades_run_id ON backtest_trades (run_id)',
    'CREATE TABLE backtest_equity (\n\trun_id INTEGER NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\tequity FLOAT NOT NULL, \n\tdrawdown FLOAT NOT NULL, \n\tPRIMARY KEY (run_id, ts_ms), \n\tFOREIGN KEY(run_id) REFERENCES backtest_runs (id) ON DELETE CASCADE\n)\n WITHOUT ROWID\n\n',
    'CREATE TABLE notifications (\n\tid INTEGER NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\tseverity VARCHAR NOT NULL, \n\ttitle VARCHAR NOT NULL, \n\tbody VARCHAR NOT NULL, \n\tchannel VARCHAR NOT NULL, \n\tstatus VARCHAR NOT NULL, \n\terror VARCHAR NOT NULL, \n\tPRIMARY KEY (id)\n)',
    'CREATE INDEX ix_notifications_ts_ms ON notifications (ts_ms)',
    "CREATE TABLE risk_events (\n\tid INTEGER NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\trule VARCHAR NOT NULL, \n\tmessage VARCHAR NOT NULL, \n\tstate VARCHAR NOT NULL, \n\tnumbers TEXT, \n\tmode VARCHAR NOT NULL, account VARCHAR NOT NULL DEFAULT 'default', \n\tPRIMARY KEY (id)\n)",
    'CREATE INDEX ix_risk_events_ts_ms ON risk_events (ts_ms)',
    'CREATE TABLE audit_log (\n\tid INTEGER NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\tactor VARCHAR NOT NULL, \n\taction VARCHAR NOT NULL, \n\tdetails TEXT, \n\tPRIMARY KEY (id)\n)',
    'CREATE INDEX ix_audit_log_ts_ms ON audit_log (ts_ms)',
    "CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events BEGIN SELECT RAISE(ABORT, 'order_events is append-only: UPDATE refused'); END",
    "CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events BEGIN SELECT RAISE(ABORT, 'order_events is append-only: DELETE refused'); END",
    'CREATE TABLE state (\n\t"key" VARCHAR NOT NULL, \n\tvalue VARCHAR NOT NULL, \n\tupdated_ms INTEGER NOT NULL, \n\tPRIMARY KEY ("key")\n)',
    'CREATE TABLE opt_trials (\n\tid INTEGER NOT NULL, \n\tstudy VARCHAR NOT NULL, \n\tparams_hash VARCHAR NOT NULL, \n\tparams TEXT, \n\trun_id INTEGER, \n\tobjective FLOAT, \n\tmetrics TEXT, \n\tstatus VARCHAR NOT NULL, \n\terror VARCHAR NOT NULL, \n\tcreated_ms INTEGER NOT NULL, \n\tPRIMARY KEY (id), \n\tCONSTRAINT uq_opt_trials_study_params UNIQUE (study, params_hash), \n\tFOREIGN KEY(run_id) REFERENCES backtest_runs (id) ON DELETE SET NULL\n)',
    'CREATE INDEX ix_opt_trials_study ON opt_trials (study)',
    'CREATE TABLE funding_rates (\n\tsymbol VARCHAR NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\trate TEXT NOT NULL, \n\tPRIMARY KEY (symbol, ts_ms)\n)\n WITHOUT ROWID\n\n',
    "CREATE TABLE orders (\n\tid INTEGER NOT NULL, \n\taccount VARCHAR DEFAULT 'default' NOT NULL, \n\tclient_id VARCHAR NOT NULL, \n\tvenue_order_id VARCHAR, \n\tsymbol VARCHAR NOT NULL, \n\tside VARCHAR NOT NULL, \n\torder_type VARCHAR NOT NULL, \n\tsize TEXT NOT NULL, \n\tprice TEXT, \n\ttif VARCHAR NOT NULL, \n\treduce_only BOOLEAN NOT NULL, \n\ttrigger_price TEXT, \n\tstatus VARCHAR NOT NULL, \n\tfilled TEXT NOT NULL, \n\tavg_fill_price TEXT NOT NULL, \n\tfees TEXT NOT NULL, \n\tcreated_ms INTEGER NOT NULL, \n\tupdated_ms INTEGER NOT NULL, \n\tstrategy VARCHAR NOT NULL, \n\treason VARCHAR NOT NULL, \n\tmode VARCHAR NOT NULL, \n\ttrade_ids TEXT, \n\tversion INTEGER DEFAULT '0' NOT NULL, \n\tPRIMARY KEY (id)\n)",
    'CREATE INDEX ix_orders_status ON orders (status)',
    'CREATE UNIQUE INDEX ux_orders_account_mode_client ON orders (account, mode, client_id)',
    'CREATE INDEX ix_orders_venue_order_id ON orders (venue_order_id)',
    'CREATE INDEX ix_orders_client_id ON orders (client_id)',
    'CREATE INDEX ix_orders_symbol ON orders (symbol)',
    "CREATE TABLE fills (\n\tid INTEGER NOT NULL, \n\taccount VARCHAR DEFAULT 'default' NOT NULL, \n\ttrade_id VARCHAR NOT NULL, \n\tclient_id VARCHAR NOT NULL, \n\tvenue_order_id VARCHAR, \n\tsymbol VARCHAR NOT NULL, \n\tside VARCHAR NOT NULL, \n\tsize TEXT NOT NULL, \n\tprice TEXT NOT NULL, \n\tfee TEXT NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\tliquidity VARCHAR NOT NULL, \n\tmode VARCHAR NOT NULL, \n\tPRIMARY KEY (id), \n\tCONSTRAINT uq_fills_account_mode_trade UNIQUE (account, mode, trade_id)\n)",
    'CREATE INDEX ix_fills_symbol ON fills (symbol)',
    'CREATE INDEX ix_fills_client_id ON fills (client_id)',
    "CREATE TABLE positions (\n\taccount VARCHAR DEFAULT 'default' NOT NULL, \n\tmode VARCHAR NOT NULL, \n\tsymbol VARCHAR NOT NULL, \n\tquanto_multiplier TEXT NOT NULL, \n\tsize TEXT NOT NULL, \n\tentry_price TEXT NOT NULL, \n\trealized_pnl TEXT NOT NULL, \n\tfees TEXT NOT NULL, \n\tfunding TEXT NOT NULL, \n\tleverage TEXT NOT NULL, \n\tupdated_ms INTEGER NOT NULL, \n\tPRIMARY KEY (account, mode, symbol)\n)",
    "CREATE TABLE balances (\n\taccount VARCHAR DEFAULT 'default' NOT NULL, \n\tmode VARCHAR NOT NULL, \n\tcurrency VARCHAR NOT NULL, \n\ttotal TEXT NOT NULL, \n\tavailable TEXT NOT NULL, \n\tts_ms INTEGER NOT NULL, \n\tPRIMARY KEY (account, mode, currency)\n)",
    'CREATE TABLE candle_stats (\n\tsymbol VARCHAR NOT NULL, \n\ttimeframe VARCHAR NOT NULL, \n\tfirst_ms INTEGER NOT NULL, \n\tlast_ms INTEGER NOT NULL, \n\trows INTEGER NOT NULL, \n\tgaps INTEGER NOT NULL, \n\tPRIMARY KEY (symbol, timeframe)\n)\n WITHOUT ROWID\n\n',
    'CREATE INDEX ix_fills_account_mode_ts ON fills (account, mode, ts_ms)',
    'CREATE TABLE candle_versions (\n\tsymbol VARCHAR NOT NULL, \n\ttimeframe VARCHAR NOT NULL, \n\tversion INTEGER NOT NULL, \n\tPRIMARY KEY (symbol, timeframe)\n)\n WITHOUT ROWID\n\n',
    'CREATE TRIGGER candles_version_insert AFTER INSERT ON candles BEGIN INSERT INTO candle_versions (symbol, timeframe, version) VALUES (NEW.symbol, NEW.timeframe, random()) ON CONFLICT (symbol, timeframe) DO UPDATE SET version = excluded.version; END',
    'CREATE TRIGGER candles_version_update AFTER UPDATE ON candles BEGIN INSERT INTO candle_versions (symbol, timeframe, version) VALUES (OLD.symbol, OLD.timeframe, random()) ON CONFLICT (symbol, timeframe) DO UPDATE SET version = excluded.version; INSERT INTO candle_versions (symbol, timeframe, version) VALUES (NEW.symbol, NEW.timeframe, random()) ON CONFLICT (symbol, timeframe) DO UPDATE SET version = excluded.version; END',
    'CREATE TRIGGER candles_version_delete AFTER DELETE ON candles BEGIN INSERT INTO candle_versions (symbol, timeframe, version) VALUES (OLD.symbol, OLD.timeframe, random()) ON CONFLICT (symbol, timeframe) DO UPDATE SET version = excluded.version; END',
)
