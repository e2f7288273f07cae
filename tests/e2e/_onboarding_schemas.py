"""Two MySQL schemas unlike `sales`, for the discover → scaffold → run tests (issue 17, 18).

``SHOP``: many column types, a composite key, a table with no cursor (no auto-increment key: full_sync),
an append-only log (auto-increment key, created_at only: id), a table with no key, a view, foreign keys,
and a foreign-key cycle (warehouses ↔ staff).
``CLINIC``: unique NOT NULL key instead of a primary key, a cursor found by ON UPDATE only, composite
foreign keys, a BLOB column.
"""

from __future__ import annotations

SHOP = [
    """CREATE TABLE regions (
        region_code CHAR(2) NOT NULL PRIMARY KEY,
        name VARCHAR(50) NOT NULL,
        population BIGINT UNSIGNED NULL
    )""",
    """CREATE TABLE warehouses (
        warehouse_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        region_code CHAR(2) NOT NULL,
        manager_id INT NULL,
        name VARCHAR(80) NOT NULL,
        capacity DECIMAL(12,3) NOT NULL,
        opened_on DATE NULL,
        last_update TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
        CONSTRAINT fk_wh_region FOREIGN KEY (region_code) REFERENCES regions (region_code)
    )""",
    """CREATE TABLE staff (
        staff_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        warehouse_id INT NULL,
        full_name VARCHAR(100) NOT NULL,
        is_active TINYINT(1) NOT NULL DEFAULT 1,
        shift_start TIME NULL,
        salary DOUBLE NULL,
        modified_at DATETIME(6) NOT NULL,
        CONSTRAINT fk_staff_wh FOREIGN KEY (warehouse_id) REFERENCES warehouses (warehouse_id)
    )""",
    "ALTER TABLE warehouses ADD CONSTRAINT fk_wh_manager FOREIGN KEY (manager_id) REFERENCES staff (staff_id)",
    """CREATE TABLE stock (
        warehouse_id INT NOT NULL,
        sku VARCHAR(20) NOT NULL,
        bin SMALLINT NOT NULL,
        qty INT NOT NULL,
        unit_cost DECIMAL(10,2) NULL,
        attributes JSON NULL,
        grade ENUM('a','b','c') NULL,
        tags SET('fragile','cold','heavy') NULL,
        weight FLOAT NULL,
        flags BIT(8) NULL,
        made_in YEAR NULL,
        updated_at DATETIME(6) NOT NULL,
        PRIMARY KEY (warehouse_id, sku, bin),
        KEY ix_stock_updated (updated_at),
        CONSTRAINT fk_stock_wh FOREIGN KEY (warehouse_id) REFERENCES warehouses (warehouse_id)
    )""",
    """CREATE TABLE stock_moves (
        move_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        warehouse_id INT NOT NULL,
        sku VARCHAR(20) NOT NULL,
        delta INT NOT NULL,
        note TEXT NULL,
        created_at DATETIME(6) NOT NULL,
        CONSTRAINT fk_moves_wh FOREIGN KEY (warehouse_id) REFERENCES warehouses (warehouse_id)
    )""",
    """CREATE TABLE price_list (
        sku VARCHAR(20) NOT NULL,
        currency CHAR(3) NOT NULL,
        price DECIMAL(10,2) NOT NULL,
        PRIMARY KEY (sku, currency)
    )""",
    """CREATE TABLE audit_scratch (
        happened DATETIME NULL,
        what VARCHAR(200) NULL
    )""",
    "CREATE VIEW v_stock_value AS SELECT warehouse_id, SUM(qty * unit_cost) AS value FROM stock GROUP BY warehouse_id",
]

SHOP_ROWS = [
    "INSERT INTO regions VALUES ('NO', 'Norway', 5500000), ('SE', 'Sweden', NULL), ('FI', 'Finland', 18446744073709551615)",
    "INSERT INTO warehouses (warehouse_id, region_code, name, capacity, opened_on, last_update) VALUES"
    " (1, 'NO', 'Oslo', 1200.500, '2020-01-02', '2024-01-01 00:00:00.000001'),"
    " (2, 'SE', 'Malmö', 800.000, NULL, '2024-01-01 00:00:00.000002'),"
    " (3, 'FI', 'Turku', 10.125, '2021-05-06', '2024-01-01 00:00:00.000003')",
    "INSERT INTO staff VALUES (1, 1, 'Ada', 1, '08:00:00', 5000.5, '2024-01-02 10:00:00'),"
    " (2, 2, 'Bo', 1, '30:15:00', NULL, '2024-01-02 10:00:00'), (3, NULL, 'Cy', 0, NULL, 1.25, '2024-01-03 00:00:00')",
    "UPDATE warehouses SET manager_id = 1, last_update = '2024-01-05 00:00:00' WHERE warehouse_id = 1",
    "INSERT INTO stock VALUES (1, 'A-1', 1, 10, 2.50, '{\"color\": \"red\"}', 'a', 'fragile,cold', 1.5, b'10100000', 2019, '2024-02-01 00:00:00'),"
    " (1, 'A-1', 2, 5, 2.50, NULL, NULL, '', NULL, NULL, NULL, '2024-02-01 00:00:00'),"
    " (2, 'B-7', 1, 0, NULL, '[1, 2]', 'c', 'heavy', -0.25, b'1', 1999, '2024-02-02 00:00:00')",
    "INSERT INTO stock_moves (warehouse_id, sku, delta, note, created_at) VALUES"
    " (1, 'A-1', 10, 'initial', '2024-02-01 00:00:00'), (2, 'B-7', -3, NULL, '2024-02-02 00:00:00')",
    "INSERT INTO price_list VALUES ('A-1', 'EUR', 3.10), ('A-1', 'NOK', 35.00), ('B-7', 'EUR', 9.99)",
    "INSERT INTO audit_scratch VALUES (NOW(), 'x'), (NOW(), 'x')",
]

CLINIC = [
    """CREATE TABLE doctors (
        doctor_code VARCHAR(10) NOT NULL,
        surname VARCHAR(60) NOT NULL,
        speciality VARCHAR(40) NULL,
        signed_on TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        UNIQUE KEY uq_doctor (doctor_code)
    )""",
    """CREATE TABLE patients (
        clinic_no SMALLINT NOT NULL,
        patient_no INT NOT NULL,
        born DATE NULL,
        photo MEDIUMBLOB NULL,
        balance DECIMAL(14,4) NOT NULL DEFAULT 0,
        row_changed TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
        PRIMARY KEY (clinic_no, patient_no)
    )""",
    """CREATE TABLE visits (
        visit_id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        clinic_no SMALLINT NOT NULL,
        patient_no INT NOT NULL,
        doctor_code VARCHAR(10) NOT NULL,
        visited_at DATETIME(6) NOT NULL,
        fee DECIMAL(8,2) NULL,
        updated_at DATETIME(6) NOT NULL,
        CONSTRAINT fk_visit_patient FOREIGN KEY (clinic_no, patient_no) REFERENCES patients (clinic_no, patient_no),
        CONSTRAINT fk_visit_doctor FOREIGN KEY (doctor_code) REFERENCES doctors (doctor_code)
    )""",
]

CLINIC_ROWS = [
    "INSERT INTO doctors (doctor_code, surname, speciality, signed_on) VALUES"
    " ('D1', 'House', 'diagnostics', '2024-01-01 00:00:00'), ('D2', 'Grey', NULL, '2024-01-01 00:00:00')",
    "INSERT INTO patients (clinic_no, patient_no, born, photo, balance, row_changed) VALUES"
    " (1, 1, '1980-02-29', x'00ff', 10.5, '2024-01-01 00:00:00'), (1, 2, NULL, NULL, 0, '2024-01-01 00:00:00'),"
    " (2, 1, '2001-12-31', NULL, -3.25, '2024-01-01 00:00:00')",
    "INSERT INTO visits (clinic_no, patient_no, doctor_code, visited_at, fee, updated_at) VALUES"
    " (1, 1, 'D1', '2024-03-01 09:00:00', 120.00, '2024-03-01 09:00:00'),"
    " (2, 1, 'D2', '2024-03-02 10:30:00', NULL, '2024-03-02 10:30:00')",
]
