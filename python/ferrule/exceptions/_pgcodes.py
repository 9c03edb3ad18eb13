# GENERATED FILE: do not edit by hand.
# Written by tools/gen_pgerrors.py from PostgreSQL's errcodes.txt. Regenerate with
#     python tools/gen_pgerrors.py [path/to/errcodes.txt]
# and check that it is current with `python tools/gen_pgerrors.py --check`.
"""PostgreSQL SQLSTATE codes, one exception class each."""

# --- BEGIN GENERATED CODE (tools/gen_pgerrors.py) ---

from ._base import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from ._shared import (
    AuthenticationError,
    ConnectionFailureError,
    ConnectionLostError,
    TransactionRollbackError,
)

__all__ = [
    "ActiveSQLTransactionError",
    "AdminShutdownError",
    "AmbiguousAliasError",
    "AmbiguousColumnError",
    "AmbiguousFunctionError",
    "AmbiguousParameterError",
    "ArraySubscriptError",
    "AssertFailureError",
    "BadCopyFileFormatError",
    "BranchTransactionAlreadyActiveError",
    "CannotCoerceError",
    "CannotConnectNowError",
    "CantChangeRuntimeParamError",
    "CardinalityViolationError",
    "CaseNotFoundError",
    "CharacterNotInRepertoireError",
    "CollationMismatchError",
    "ConfigFileError",
    "ConfigurationLimitExceededError",
    "ConnectionDoesNotExistError",
    "ContainingSQLNotPermittedError",
    "CrashShutdownError",
    "DataCorruptedError",
    "DatabaseDroppedError",
    "DatatypeMismatchError",
    "DatetimeFieldOverflowError",
    "DependentObjectsStillExistError",
    "DependentPrivilegeDescriptorsStillExistError",
    "DiagnosticsError",
    "DiskFullError",
    "DivisionByZeroError",
    "DuplicateAliasError",
    "DuplicateColumnError",
    "DuplicateCursorError",
    "DuplicateDatabaseError",
    "DuplicateFileError",
    "DuplicateFunctionError",
    "DuplicateJSONObjectKeyValueError",
    "DuplicateObjectError",
    "DuplicatePreparedStatementError",
    "DuplicateSchemaError",
    "DuplicateTableError",
    "ErrorInAssignmentError",
    "EscapeCharacterConflictError",
    "EventTriggerProtocolViolatedError",
    "ExclusionViolationError",
    "ExternalRoutineError",
    "ExternalRoutineInvocationError",
    "ExternalRoutineInvocationNullValueNotAllowedError",
    "ExternalRoutineModifyingSQLDataNotPermittedError",
    "ExternalRoutineProhibitedSQLStatementAttemptedError",
    "ExternalRoutineReadingSQLDataNotPermittedError",
    "FDWColumnNameNotFoundError",
    "FDWDynamicParameterValueNeededError",
    "FDWError",
    "FDWFunctionSequenceError",
    "FDWInconsistentDescriptorInformationError",
    "FDWInvalidAttributeValueError",
    "FDWInvalidColumnNameError",
    "FDWInvalidColumnNumberError",
    "FDWInvalidDataTypeDescriptorsError",
    "FDWInvalidDataTypeError",
    "FDWInvalidDescriptorFieldIdentifierError",
    "FDWInvalidHandleError",
    "FDWInvalidOptionIndexError",
    "FDWInvalidOptionNameError",
    "FDWInvalidStringFormatError",
    "FDWInvalidStringLengthOrBufferLengthError",
    "FDWInvalidUseOfNullPointerError",
    "FDWNoSchemasError",
    "FDWOptionNameNotFoundError",
    "FDWOutOfMemoryError",
    "FDWReplyHandleError",
    "FDWSchemaNotFoundError",
    "FDWTableNotFoundError",
    "FDWTooManyHandlesError",
    "FDWUnableToCreateExecutionError",
    "FDWUnableToCreateReplyError",
    "FDWUnableToEstablishConnectionError",
    "FeatureNotSupportedError",
    "FunctionExecutedNoReturnStatementError",
    "GeneratedAlwaysError",
    "GroupingError",
    "HeldCursorRequiresSameIsolationLevelError",
    "IdleInTransactionSessionTimeoutError",
    "IdleSessionTimeoutError",
    "InFailedSQLTransactionError",
    "InappropriateAccessModeForBranchTransactionError",
    "InappropriateIsolationLevelForBranchTransactionError",
    "IndeterminateCollationError",
    "IndeterminateDatatypeError",
    "IndexCorruptedError",
    "IndicatorOverflowError",
    "InsufficientPrivilegeError",
    "InsufficientResourcesError",
    "IntegrityConstraintViolationError",
    "IntervalFieldOverflowError",
    "InvalidArgumentForLogarithmError",
    "InvalidArgumentForNthValueFunctionError",
    "InvalidArgumentForNtileFunctionError",
    "InvalidArgumentForPowerFunctionError",
    "InvalidArgumentForSQLJSONDatetimeFunctionError",
    "InvalidArgumentForWidthBucketFunctionError",
    "InvalidAuthorizationSpecificationError",
    "InvalidBinaryRepresentationError",
    "InvalidCatalogNameError",
    "InvalidCharacterValueForCastError",
    "InvalidColumnDefinitionError",
    "InvalidColumnReferenceError",
    "InvalidCursorDefinitionError",
    "InvalidCursorNameError",
    "InvalidCursorStateError",
    "InvalidDatabaseDefinitionError",
    "InvalidDatetimeFormatError",
    "InvalidEscapeCharacterError",
    "InvalidEscapeOctetError",
    "InvalidEscapeSequenceError",
    "InvalidForeignKeyError",
    "InvalidFunctionDefinitionError",
    "InvalidGrantOperationError",
    "InvalidGrantorError",
    "InvalidIndicatorParameterValueError",
    "InvalidJSONTextError",
    "InvalidLocatorSpecificationError",
    "InvalidNameError",
    "InvalidObjectDefinitionError",
    "InvalidParameterValueError",
    "InvalidPasswordError",
    "InvalidPrecedingOrFollowingSizeError",
    "InvalidPreparedStatementDefinitionError",
    "InvalidRecursionError",
    "InvalidRegularExpressionError",
    "InvalidRoleSpecificationError",
    "InvalidRowCountInLimitClauseError",
    "InvalidRowCountInResultOffsetClauseError",
    "InvalidSQLJSONSubscriptError",
    "InvalidSQLStateReturnedError",
    "InvalidSQLStatementNameError",
    "InvalidSavepointSpecificationError",
    "InvalidSchemaDefinitionError",
    "InvalidSchemaNameError",
    "InvalidTableDefinitionError",
    "InvalidTablesampleArgumentError",
    "InvalidTablesampleRepeatError",
    "InvalidTextRepresentationError",
    "InvalidTimeZoneDisplacementValueError",
    "InvalidTransactionInitiationError",
    "InvalidTransactionStateError",
    "InvalidTransactionTerminationError",
    "InvalidUseOfEscapeCharacterError",
    "InvalidXMLCommentError",
    "InvalidXMLContentError",
    "InvalidXMLDocumentError",
    "InvalidXMLProcessingInstructionError",
    "LocatorError",
    "LockFileExistsError",
    "LockNotAvailableError",
    "MoreThanOneSQLJSONItemError",
    "MostSpecificTypeMismatchError",
    "NameTooLongError",
    "NoActiveSQLTransactionError",
    "NoActiveSQLTransactionForBranchTransactionError",
    "NoDataFoundError",
    "NoSQLJSONItemError",
    "NonNumericSQLJSONItemError",
    "NonUniqueKeysInAJSONObjectError",
    "NonstandardUseOfEscapeCharacterError",
    "NotAnXMLDocumentError",
    "NullValueNoIndicatorParameterError",
    "NullValueNotAllowedError",
    "NumericValueOutOfRangeError",
    "ObjectInUseError",
    "ObjectNotInPrerequisiteStateError",
    "OperatorInterventionError",
    "OutOfMemoryError",
    "PLPGSQLError",
    "PostgresConnectionError",
    "PostgresConnectionFailureError",
    "PostgresDataError",
    "PostgresFloatingPointError",
    "PostgresIOError",
    "PostgresInternalError",
    "PostgresSyntaxError",
    "PostgresSystemError",
    "ProgramLimitExceededError",
    "ProtocolViolationError",
    "RaiseError",
    "ReadOnlySQLTransactionError",
    "ReservedNameError",
    "RestrictViolationError",
    "SQLClientUnableToEstablishSQLConnectionError",
    "SQLJSONArrayNotFoundError",
    "SQLJSONItemCannotBeCastToTargetTypeError",
    "SQLJSONMemberNotFoundError",
    "SQLJSONNumberNotFoundError",
    "SQLJSONObjectNotFoundError",
    "SQLJSONScalarRequiredError",
    "SQLRoutineError",
    "SQLRoutineModifyingSQLDataNotPermittedError",
    "SQLRoutineProhibitedSQLStatementAttemptedError",
    "SQLRoutineReadingSQLDataNotPermittedError",
    "SQLServerRejectedEstablishmentOfSQLConnectionError",
    "SQLStatementNotYetCompleteError",
    "SRFProtocolViolatedError",
    "SavepointError",
    "SchemaAndDataStatementMixingNotSupportedError",
    "SequenceGeneratorLimitExceededError",
    "SingletonSQLJSONItemRequiredError",
    "SnapshotTooOldError",
    "StackedDiagnosticsAccessedWithoutActiveHandlerError",
    "StatementCompletionUnknownError",
    "StatementTooComplexError",
    "StringDataLengthMismatchError",
    "StringDataRightTruncationError",
    "SubstringError",
    "SyntaxErrorOrAccessRuleViolationError",
    "TooManyArgumentsError",
    "TooManyColumnsError",
    "TooManyConnectionsError",
    "TooManyJSONArrayElementsError",
    "TooManyJSONObjectMembersError",
    "TooManyRowsError",
    "TransactionIntegrityConstraintViolationError",
    "TransactionResolutionUnknownError",
    "TriggerProtocolViolatedError",
    "TriggeredActionError",
    "TriggeredDataChangeViolationError",
    "TrimError",
    "UndefinedColumnError",
    "UndefinedFileError",
    "UndefinedFunctionError",
    "UndefinedObjectError",
    "UndefinedParameterError",
    "UndefinedTableError",
    "UnsafeNewEnumValueUsageError",
    "UnterminatedCStringError",
    "UntranslatableCharacterError",
    "WindowingError",
    "WithCheckOptionViolationError",
    "WrongObjectTypeError",
    "ZeroLengthCharacterStringError",
]

#: The parent class of each SQLSTATE class (the code's first two characters).
SQLSTATE_CLASS_PARENTS: dict[str, type[Error]] = {
    "03": DatabaseError,
    "08": ConnectionFailureError,
    "09": DatabaseError,
    "0A": NotSupportedError,
    "0B": DatabaseError,
    "0F": DatabaseError,
    "0L": DatabaseError,
    "0P": DatabaseError,
    "0Z": DatabaseError,
    "20": ProgrammingError,
    "21": ProgrammingError,
    "22": DataError,
    "23": IntegrityError,
    "24": InternalError,
    "25": InternalError,
    "26": ProgrammingError,
    "27": OperationalError,
    "28": AuthenticationError,
    "2B": InternalError,
    "2D": InternalError,
    "2F": InternalError,
    "34": ProgrammingError,
    "38": InternalError,
    "39": InternalError,
    "3B": InternalError,
    "3D": ProgrammingError,
    "3F": ProgrammingError,
    "40": TransactionRollbackError,
    "42": ProgrammingError,
    "44": ProgrammingError,
    "53": OperationalError,
    "54": OperationalError,
    "55": OperationalError,
    "57": OperationalError,
    "58": OperationalError,
    "72": DatabaseError,
    "F0": InternalError,
    "HV": OperationalError,
    "P0": InternalError,
    "XX": InternalError,
}


# Class 03 - SQL Statement Not Yet Complete


class SQLStatementNotYetCompleteError(DatabaseError, code="03000"):
    """SQLSTATE 03000: sql_statement_not_yet_complete."""


# Class 08 - Connection Exception


class PostgresConnectionError(ConnectionFailureError, code="08000"):
    """SQLSTATE 08000: connection_exception."""


class ConnectionDoesNotExistError(ConnectionLostError, code="08003"):
    """SQLSTATE 08003: connection_does_not_exist."""


class PostgresConnectionFailureError(ConnectionLostError, code="08006"):
    """SQLSTATE 08006: connection_failure."""


class SQLClientUnableToEstablishSQLConnectionError(ConnectionFailureError, code="08001"):
    """SQLSTATE 08001: sqlclient_unable_to_establish_sqlconnection."""


class SQLServerRejectedEstablishmentOfSQLConnectionError(ConnectionFailureError, code="08004"):
    """SQLSTATE 08004: sqlserver_rejected_establishment_of_sqlconnection."""


class TransactionResolutionUnknownError(ConnectionLostError, code="08007"):
    """SQLSTATE 08007: transaction_resolution_unknown."""


class ProtocolViolationError(ConnectionFailureError, code="08P01"):
    """SQLSTATE 08P01: protocol_violation."""


# Class 09 - Triggered Action Exception


class TriggeredActionError(DatabaseError, code="09000"):
    """SQLSTATE 09000: triggered_action_exception."""


# Class 0A - Feature Not Supported


class FeatureNotSupportedError(NotSupportedError, code="0A000"):
    """SQLSTATE 0A000: feature_not_supported."""


# Class 0B - Invalid Transaction Initiation


class InvalidTransactionInitiationError(DatabaseError, code="0B000"):
    """SQLSTATE 0B000: invalid_transaction_initiation."""


# Class 0F - Locator Exception


class LocatorError(DatabaseError, code="0F000"):
    """SQLSTATE 0F000: locator_exception."""


class InvalidLocatorSpecificationError(DatabaseError, code="0F001"):
    """SQLSTATE 0F001: invalid_locator_specification."""


# Class 0L - Invalid Grantor


class InvalidGrantorError(DatabaseError, code="0L000"):
    """SQLSTATE 0L000: invalid_grantor."""


class InvalidGrantOperationError(DatabaseError, code="0LP01"):
    """SQLSTATE 0LP01: invalid_grant_operation."""


# Class 0P - Invalid Role Specification


class InvalidRoleSpecificationError(DatabaseError, code="0P000"):
    """SQLSTATE 0P000: invalid_role_specification."""


# Class 0Z - Diagnostics Exception


class DiagnosticsError(DatabaseError, code="0Z000"):
    """SQLSTATE 0Z000: diagnostics_exception."""


class StackedDiagnosticsAccessedWithoutActiveHandlerError(DatabaseError, code="0Z002"):
    """SQLSTATE 0Z002: stacked_diagnostics_accessed_without_active_handler."""


# Class 20 - Case Not Found


class CaseNotFoundError(ProgrammingError, code="20000"):
    """SQLSTATE 20000: case_not_found."""


# Class 21 - Cardinality Violation


class CardinalityViolationError(ProgrammingError, code="21000"):
    """SQLSTATE 21000: cardinality_violation."""


# Class 22 - Data Exception


class PostgresDataError(DataError, code="22000"):
    """SQLSTATE 22000: data_exception."""


class ArraySubscriptError(DataError, code="2202E"):
    """SQLSTATE 2202E: array_subscript_error."""


class CharacterNotInRepertoireError(DataError, code="22021"):
    """SQLSTATE 22021: character_not_in_repertoire."""


class DatetimeFieldOverflowError(DataError, code="22008"):
    """SQLSTATE 22008: datetime_field_overflow."""


class DivisionByZeroError(DataError, code="22012"):
    """SQLSTATE 22012: division_by_zero."""


class ErrorInAssignmentError(DataError, code="22005"):
    """SQLSTATE 22005: error_in_assignment."""


class EscapeCharacterConflictError(DataError, code="2200B"):
    """SQLSTATE 2200B: escape_character_conflict."""


class IndicatorOverflowError(DataError, code="22022"):
    """SQLSTATE 22022: indicator_overflow."""


class IntervalFieldOverflowError(DataError, code="22015"):
    """SQLSTATE 22015: interval_field_overflow."""


class InvalidArgumentForLogarithmError(DataError, code="2201E"):
    """SQLSTATE 2201E: invalid_argument_for_logarithm."""


class InvalidArgumentForNtileFunctionError(DataError, code="22014"):
    """SQLSTATE 22014: invalid_argument_for_ntile_function."""


class InvalidArgumentForNthValueFunctionError(DataError, code="22016"):
    """SQLSTATE 22016: invalid_argument_for_nth_value_function."""


class InvalidArgumentForPowerFunctionError(DataError, code="2201F"):
    """SQLSTATE 2201F: invalid_argument_for_power_function."""


class InvalidArgumentForWidthBucketFunctionError(DataError, code="2201G"):
    """SQLSTATE 2201G: invalid_argument_for_width_bucket_function."""


class InvalidCharacterValueForCastError(DataError, code="22018"):
    """SQLSTATE 22018: invalid_character_value_for_cast."""


class InvalidDatetimeFormatError(DataError, code="22007"):
    """SQLSTATE 22007: invalid_datetime_format."""


class InvalidEscapeCharacterError(DataError, code="22019"):
    """SQLSTATE 22019: invalid_escape_character."""


class InvalidEscapeOctetError(DataError, code="2200D"):
    """SQLSTATE 2200D: invalid_escape_octet."""


class InvalidEscapeSequenceError(DataError, code="22025"):
    """SQLSTATE 22025: invalid_escape_sequence."""


class NonstandardUseOfEscapeCharacterError(DataError, code="22P06"):
    """SQLSTATE 22P06: nonstandard_use_of_escape_character."""


class InvalidIndicatorParameterValueError(DataError, code="22010"):
    """SQLSTATE 22010: invalid_indicator_parameter_value."""


class InvalidParameterValueError(DataError, code="22023"):
    """SQLSTATE 22023: invalid_parameter_value."""


class InvalidPrecedingOrFollowingSizeError(DataError, code="22013"):
    """SQLSTATE 22013: invalid_preceding_or_following_size."""


class InvalidRegularExpressionError(DataError, code="2201B"):
    """SQLSTATE 2201B: invalid_regular_expression."""


class InvalidRowCountInLimitClauseError(DataError, code="2201W"):
    """SQLSTATE 2201W: invalid_row_count_in_limit_clause."""


class InvalidRowCountInResultOffsetClauseError(DataError, code="2201X"):
    """SQLSTATE 2201X: invalid_row_count_in_result_offset_clause."""


class InvalidTablesampleArgumentError(DataError, code="2202H"):
    """SQLSTATE 2202H: invalid_tablesample_argument."""


class InvalidTablesampleRepeatError(DataError, code="2202G"):
    """SQLSTATE 2202G: invalid_tablesample_repeat."""


class InvalidTimeZoneDisplacementValueError(DataError, code="22009"):
    """SQLSTATE 22009: invalid_time_zone_displacement_value."""


class InvalidUseOfEscapeCharacterError(DataError, code="2200C"):
    """SQLSTATE 2200C: invalid_use_of_escape_character."""


class MostSpecificTypeMismatchError(DataError, code="2200G"):
    """SQLSTATE 2200G: most_specific_type_mismatch."""


class NullValueNotAllowedError(DataError, code="22004"):
    """SQLSTATE 22004: null_value_not_allowed."""


class NullValueNoIndicatorParameterError(DataError, code="22002"):
    """SQLSTATE 22002: null_value_no_indicator_parameter."""


class NumericValueOutOfRangeError(DataError, code="22003"):
    """SQLSTATE 22003: numeric_value_out_of_range."""


class SequenceGeneratorLimitExceededError(DataError, code="2200H"):
    """SQLSTATE 2200H: sequence_generator_limit_exceeded."""


class StringDataLengthMismatchError(DataError, code="22026"):
    """SQLSTATE 22026: string_data_length_mismatch."""


class StringDataRightTruncationError(DataError, code="22001"):
    """SQLSTATE 22001: string_data_right_truncation."""


class SubstringError(DataError, code="22011"):
    """SQLSTATE 22011: substring_error."""


class TrimError(DataError, code="22027"):
    """SQLSTATE 22027: trim_error."""


class UnterminatedCStringError(DataError, code="22024"):
    """SQLSTATE 22024: unterminated_c_string."""


class ZeroLengthCharacterStringError(DataError, code="2200F"):
    """SQLSTATE 2200F: zero_length_character_string."""


class PostgresFloatingPointError(DataError, code="22P01"):
    """SQLSTATE 22P01: floating_point_exception."""


class InvalidTextRepresentationError(DataError, code="22P02"):
    """SQLSTATE 22P02: invalid_text_representation."""


class InvalidBinaryRepresentationError(DataError, code="22P03"):
    """SQLSTATE 22P03: invalid_binary_representation."""


class BadCopyFileFormatError(DataError, code="22P04"):
    """SQLSTATE 22P04: bad_copy_file_format."""


class UntranslatableCharacterError(DataError, code="22P05"):
    """SQLSTATE 22P05: untranslatable_character."""


class NotAnXMLDocumentError(DataError, code="2200L"):
    """SQLSTATE 2200L: not_an_xml_document."""


class InvalidXMLDocumentError(DataError, code="2200M"):
    """SQLSTATE 2200M: invalid_xml_document."""


class InvalidXMLContentError(DataError, code="2200N"):
    """SQLSTATE 2200N: invalid_xml_content."""


class InvalidXMLCommentError(DataError, code="2200S"):
    """SQLSTATE 2200S: invalid_xml_comment."""


class InvalidXMLProcessingInstructionError(DataError, code="2200T"):
    """SQLSTATE 2200T: invalid_xml_processing_instruction."""


class DuplicateJSONObjectKeyValueError(DataError, code="22030"):
    """SQLSTATE 22030: duplicate_json_object_key_value."""


class InvalidArgumentForSQLJSONDatetimeFunctionError(DataError, code="22031"):
    """SQLSTATE 22031: invalid_argument_for_sql_json_datetime_function."""


class InvalidJSONTextError(DataError, code="22032"):
    """SQLSTATE 22032: invalid_json_text."""


class InvalidSQLJSONSubscriptError(DataError, code="22033"):
    """SQLSTATE 22033: invalid_sql_json_subscript."""


class MoreThanOneSQLJSONItemError(DataError, code="22034"):
    """SQLSTATE 22034: more_than_one_sql_json_item."""


class NoSQLJSONItemError(DataError, code="22035"):
    """SQLSTATE 22035: no_sql_json_item."""


class NonNumericSQLJSONItemError(DataError, code="22036"):
    """SQLSTATE 22036: non_numeric_sql_json_item."""


class NonUniqueKeysInAJSONObjectError(DataError, code="22037"):
    """SQLSTATE 22037: non_unique_keys_in_a_json_object."""


class SingletonSQLJSONItemRequiredError(DataError, code="22038"):
    """SQLSTATE 22038: singleton_sql_json_item_required."""


class SQLJSONArrayNotFoundError(DataError, code="22039"):
    """SQLSTATE 22039: sql_json_array_not_found."""


class SQLJSONMemberNotFoundError(DataError, code="2203A"):
    """SQLSTATE 2203A: sql_json_member_not_found."""


class SQLJSONNumberNotFoundError(DataError, code="2203B"):
    """SQLSTATE 2203B: sql_json_number_not_found."""


class SQLJSONObjectNotFoundError(DataError, code="2203C"):
    """SQLSTATE 2203C: sql_json_object_not_found."""


class TooManyJSONArrayElementsError(DataError, code="2203D"):
    """SQLSTATE 2203D: too_many_json_array_elements."""


class TooManyJSONObjectMembersError(DataError, code="2203E"):
    """SQLSTATE 2203E: too_many_json_object_members."""


class SQLJSONScalarRequiredError(DataError, code="2203F"):
    """SQLSTATE 2203F: sql_json_scalar_required."""


class SQLJSONItemCannotBeCastToTargetTypeError(DataError, code="2203G"):
    """SQLSTATE 2203G: sql_json_item_cannot_be_cast_to_target_type."""


# Class 23 - Integrity Constraint Violation


class IntegrityConstraintViolationError(IntegrityError, code="23000"):
    """SQLSTATE 23000: integrity_constraint_violation."""


class RestrictViolationError(IntegrityError, code="23001"):
    """SQLSTATE 23001: restrict_violation."""


# 23502 not_null_violation: NotNullViolationError, in _shared.py (every backend)
# 23503 foreign_key_violation: ForeignKeyViolationError, in _shared.py (every backend)
# 23505 unique_violation: UniqueViolationError, in _shared.py (every backend)
# 23514 check_violation: CheckViolationError, in _shared.py (every backend)


class ExclusionViolationError(IntegrityError, code="23P01"):
    """SQLSTATE 23P01: exclusion_violation."""


# Class 24 - Invalid Cursor State


class InvalidCursorStateError(InternalError, code="24000"):
    """SQLSTATE 24000: invalid_cursor_state."""


# Class 25 - Invalid Transaction State


class InvalidTransactionStateError(InternalError, code="25000"):
    """SQLSTATE 25000: invalid_transaction_state."""


class ActiveSQLTransactionError(InternalError, code="25001"):
    """SQLSTATE 25001: active_sql_transaction."""


class BranchTransactionAlreadyActiveError(InternalError, code="25002"):
    """SQLSTATE 25002: branch_transaction_already_active."""


class HeldCursorRequiresSameIsolationLevelError(InternalError, code="25008"):
    """SQLSTATE 25008: held_cursor_requires_same_isolation_level."""


class InappropriateAccessModeForBranchTransactionError(InternalError, code="25003"):
    """SQLSTATE 25003: inappropriate_access_mode_for_branch_transaction."""


class InappropriateIsolationLevelForBranchTransactionError(InternalError, code="25004"):
    """SQLSTATE 25004: inappropriate_isolation_level_for_branch_transaction."""


class NoActiveSQLTransactionForBranchTransactionError(InternalError, code="25005"):
    """SQLSTATE 25005: no_active_sql_transaction_for_branch_transaction."""


class ReadOnlySQLTransactionError(InternalError, code="25006"):
    """SQLSTATE 25006: read_only_sql_transaction."""


class SchemaAndDataStatementMixingNotSupportedError(InternalError, code="25007"):
    """SQLSTATE 25007: schema_and_data_statement_mixing_not_supported."""


class NoActiveSQLTransactionError(InternalError, code="25P01"):
    """SQLSTATE 25P01: no_active_sql_transaction."""


class InFailedSQLTransactionError(InternalError, code="25P02"):
    """SQLSTATE 25P02: in_failed_sql_transaction."""


class IdleInTransactionSessionTimeoutError(ConnectionLostError, code="25P03"):
    """SQLSTATE 25P03: idle_in_transaction_session_timeout."""


# Class 26 - Invalid SQL Statement Name


class InvalidSQLStatementNameError(ProgrammingError, code="26000"):
    """SQLSTATE 26000: invalid_sql_statement_name."""


# Class 27 - Triggered Data Change Violation


class TriggeredDataChangeViolationError(OperationalError, code="27000"):
    """SQLSTATE 27000: triggered_data_change_violation."""


# Class 28 - Invalid Authorization Specification


class InvalidAuthorizationSpecificationError(AuthenticationError, code="28000"):
    """SQLSTATE 28000: invalid_authorization_specification."""


class InvalidPasswordError(AuthenticationError, code="28P01"):
    """SQLSTATE 28P01: invalid_password."""


# Class 2B - Dependent Privilege Descriptors Still Exist


class DependentPrivilegeDescriptorsStillExistError(InternalError, code="2B000"):
    """SQLSTATE 2B000: dependent_privilege_descriptors_still_exist."""


class DependentObjectsStillExistError(InternalError, code="2BP01"):
    """SQLSTATE 2BP01: dependent_objects_still_exist."""


# Class 2D - Invalid Transaction Termination


class InvalidTransactionTerminationError(InternalError, code="2D000"):
    """SQLSTATE 2D000: invalid_transaction_termination."""


# Class 2F - SQL Routine Exception


class SQLRoutineError(InternalError, code="2F000"):
    """SQLSTATE 2F000: sql_routine_exception."""


class FunctionExecutedNoReturnStatementError(InternalError, code="2F005"):
    """SQLSTATE 2F005: function_executed_no_return_statement."""


class SQLRoutineModifyingSQLDataNotPermittedError(InternalError, code="2F002"):
    """SQLSTATE 2F002: modifying_sql_data_not_permitted."""


class SQLRoutineProhibitedSQLStatementAttemptedError(InternalError, code="2F003"):
    """SQLSTATE 2F003: prohibited_sql_statement_attempted."""


class SQLRoutineReadingSQLDataNotPermittedError(InternalError, code="2F004"):
    """SQLSTATE 2F004: reading_sql_data_not_permitted."""


# Class 34 - Invalid Cursor Name


class InvalidCursorNameError(ProgrammingError, code="34000"):
    """SQLSTATE 34000: invalid_cursor_name."""


# Class 38 - External Routine Exception


class ExternalRoutineError(InternalError, code="38000"):
    """SQLSTATE 38000: external_routine_exception."""


class ContainingSQLNotPermittedError(InternalError, code="38001"):
    """SQLSTATE 38001: containing_sql_not_permitted."""


class ExternalRoutineModifyingSQLDataNotPermittedError(InternalError, code="38002"):
    """SQLSTATE 38002: modifying_sql_data_not_permitted."""


class ExternalRoutineProhibitedSQLStatementAttemptedError(InternalError, code="38003"):
    """SQLSTATE 38003: prohibited_sql_statement_attempted."""


class ExternalRoutineReadingSQLDataNotPermittedError(InternalError, code="38004"):
    """SQLSTATE 38004: reading_sql_data_not_permitted."""


# Class 39 - External Routine Invocation Exception


class ExternalRoutineInvocationError(InternalError, code="39000"):
    """SQLSTATE 39000: external_routine_invocation_exception."""


class InvalidSQLStateReturnedError(InternalError, code="39001"):
    """SQLSTATE 39001: invalid_sqlstate_returned."""


class ExternalRoutineInvocationNullValueNotAllowedError(InternalError, code="39004"):
    """SQLSTATE 39004: null_value_not_allowed."""


class TriggerProtocolViolatedError(InternalError, code="39P01"):
    """SQLSTATE 39P01: trigger_protocol_violated."""


class SRFProtocolViolatedError(InternalError, code="39P02"):
    """SQLSTATE 39P02: srf_protocol_violated."""


class EventTriggerProtocolViolatedError(InternalError, code="39P03"):
    """SQLSTATE 39P03: event_trigger_protocol_violated."""


# Class 3B - Savepoint Exception


class SavepointError(InternalError, code="3B000"):
    """SQLSTATE 3B000: savepoint_exception."""


class InvalidSavepointSpecificationError(InternalError, code="3B001"):
    """SQLSTATE 3B001: invalid_savepoint_specification."""


# Class 3D - Invalid Catalog Name


class InvalidCatalogNameError(ProgrammingError, code="3D000"):
    """SQLSTATE 3D000: invalid_catalog_name."""


# Class 3F - Invalid Schema Name


class InvalidSchemaNameError(ProgrammingError, code="3F000"):
    """SQLSTATE 3F000: invalid_schema_name."""


# Class 40 - Transaction Rollback
# 40000 transaction_rollback: TransactionRollbackError, in _shared.py (every backend)


class TransactionIntegrityConstraintViolationError(TransactionRollbackError, code="40002"):
    """SQLSTATE 40002: transaction_integrity_constraint_violation."""


# 40001 serialization_failure: SerializationError, in _shared.py (every backend)


class StatementCompletionUnknownError(TransactionRollbackError, code="40003"):
    """SQLSTATE 40003: statement_completion_unknown."""


# 40P01 deadlock_detected: DeadlockDetectedError, in _shared.py (every backend)


# Class 42 - Syntax Error or Access Rule Violation


class SyntaxErrorOrAccessRuleViolationError(ProgrammingError, code="42000"):
    """SQLSTATE 42000: syntax_error_or_access_rule_violation."""


class PostgresSyntaxError(ProgrammingError, code="42601"):
    """SQLSTATE 42601: syntax_error."""


class InsufficientPrivilegeError(ProgrammingError, code="42501"):
    """SQLSTATE 42501: insufficient_privilege."""


class CannotCoerceError(ProgrammingError, code="42846"):
    """SQLSTATE 42846: cannot_coerce."""


class GroupingError(ProgrammingError, code="42803"):
    """SQLSTATE 42803: grouping_error."""


class WindowingError(ProgrammingError, code="42P20"):
    """SQLSTATE 42P20: windowing_error."""


class InvalidRecursionError(ProgrammingError, code="42P19"):
    """SQLSTATE 42P19: invalid_recursion."""


class InvalidForeignKeyError(ProgrammingError, code="42830"):
    """SQLSTATE 42830: invalid_foreign_key."""


class InvalidNameError(ProgrammingError, code="42602"):
    """SQLSTATE 42602: invalid_name."""


class NameTooLongError(ProgrammingError, code="42622"):
    """SQLSTATE 42622: name_too_long."""


class ReservedNameError(ProgrammingError, code="42939"):
    """SQLSTATE 42939: reserved_name."""


class DatatypeMismatchError(ProgrammingError, code="42804"):
    """SQLSTATE 42804: datatype_mismatch."""


class IndeterminateDatatypeError(ProgrammingError, code="42P18"):
    """SQLSTATE 42P18: indeterminate_datatype."""


class CollationMismatchError(ProgrammingError, code="42P21"):
    """SQLSTATE 42P21: collation_mismatch."""


class IndeterminateCollationError(ProgrammingError, code="42P22"):
    """SQLSTATE 42P22: indeterminate_collation."""


class WrongObjectTypeError(ProgrammingError, code="42809"):
    """SQLSTATE 42809: wrong_object_type."""


class GeneratedAlwaysError(ProgrammingError, code="428C9"):
    """SQLSTATE 428C9: generated_always."""


class UndefinedColumnError(ProgrammingError, code="42703"):
    """SQLSTATE 42703: undefined_column."""


class UndefinedFunctionError(ProgrammingError, code="42883"):
    """SQLSTATE 42883: undefined_function."""


class UndefinedTableError(ProgrammingError, code="42P01"):
    """SQLSTATE 42P01: undefined_table."""


class UndefinedParameterError(ProgrammingError, code="42P02"):
    """SQLSTATE 42P02: undefined_parameter."""


class UndefinedObjectError(ProgrammingError, code="42704"):
    """SQLSTATE 42704: undefined_object."""


class DuplicateColumnError(ProgrammingError, code="42701"):
    """SQLSTATE 42701: duplicate_column."""


class DuplicateCursorError(ProgrammingError, code="42P03"):
    """SQLSTATE 42P03: duplicate_cursor."""


class DuplicateDatabaseError(ProgrammingError, code="42P04"):
    """SQLSTATE 42P04: duplicate_database."""


class DuplicateFunctionError(ProgrammingError, code="42723"):
    """SQLSTATE 42723: duplicate_function."""


class DuplicatePreparedStatementError(ProgrammingError, code="42P05"):
    """SQLSTATE 42P05: duplicate_prepared_statement."""


class DuplicateSchemaError(ProgrammingError, code="42P06"):
    """SQLSTATE 42P06: duplicate_schema."""


class DuplicateTableError(ProgrammingError, code="42P07"):
    """SQLSTATE 42P07: duplicate_table."""


class DuplicateAliasError(ProgrammingError, code="42712"):
    """SQLSTATE 42712: duplicate_alias."""


class DuplicateObjectError(ProgrammingError, code="42710"):
    """SQLSTATE 42710: duplicate_object."""


class AmbiguousColumnError(ProgrammingError, code="42702"):
    """SQLSTATE 42702: ambiguous_column."""


class AmbiguousFunctionError(ProgrammingError, code="42725"):
    """SQLSTATE 42725: ambiguous_function."""


class AmbiguousParameterError(ProgrammingError, code="42P08"):
    """SQLSTATE 42P08: ambiguous_parameter."""


class AmbiguousAliasError(ProgrammingError, code="42P09"):
    """SQLSTATE 42P09: ambiguous_alias."""


class InvalidColumnReferenceError(ProgrammingError, code="42P10"):
    """SQLSTATE 42P10: invalid_column_reference."""


class InvalidColumnDefinitionError(ProgrammingError, code="42611"):
    """SQLSTATE 42611: invalid_column_definition."""


class InvalidCursorDefinitionError(ProgrammingError, code="42P11"):
    """SQLSTATE 42P11: invalid_cursor_definition."""


class InvalidDatabaseDefinitionError(ProgrammingError, code="42P12"):
    """SQLSTATE 42P12: invalid_database_definition."""


class InvalidFunctionDefinitionError(ProgrammingError, code="42P13"):
    """SQLSTATE 42P13: invalid_function_definition."""


class InvalidPreparedStatementDefinitionError(ProgrammingError, code="42P14"):
    """SQLSTATE 42P14: invalid_prepared_statement_definition."""


class InvalidSchemaDefinitionError(ProgrammingError, code="42P15"):
    """SQLSTATE 42P15: invalid_schema_definition."""


class InvalidTableDefinitionError(ProgrammingError, code="42P16"):
    """SQLSTATE 42P16: invalid_table_definition."""


class InvalidObjectDefinitionError(ProgrammingError, code="42P17"):
    """SQLSTATE 42P17: invalid_object_definition."""


# Class 44 - WITH CHECK OPTION Violation


class WithCheckOptionViolationError(ProgrammingError, code="44000"):
    """SQLSTATE 44000: with_check_option_violation."""


# Class 53 - Insufficient Resources


class InsufficientResourcesError(OperationalError, code="53000"):
    """SQLSTATE 53000: insufficient_resources."""


class DiskFullError(OperationalError, code="53100"):
    """SQLSTATE 53100: disk_full."""


class OutOfMemoryError(OperationalError, code="53200"):
    """SQLSTATE 53200: out_of_memory."""


class TooManyConnectionsError(ConnectionFailureError, code="53300"):
    """SQLSTATE 53300: too_many_connections."""


class ConfigurationLimitExceededError(OperationalError, code="53400"):
    """SQLSTATE 53400: configuration_limit_exceeded."""


# Class 54 - Program Limit Exceeded


class ProgramLimitExceededError(OperationalError, code="54000"):
    """SQLSTATE 54000: program_limit_exceeded."""


class StatementTooComplexError(OperationalError, code="54001"):
    """SQLSTATE 54001: statement_too_complex."""


class TooManyColumnsError(OperationalError, code="54011"):
    """SQLSTATE 54011: too_many_columns."""


class TooManyArgumentsError(OperationalError, code="54023"):
    """SQLSTATE 54023: too_many_arguments."""


# Class 55 - Object Not In Prerequisite State


class ObjectNotInPrerequisiteStateError(OperationalError, code="55000"):
    """SQLSTATE 55000: object_not_in_prerequisite_state."""


class ObjectInUseError(OperationalError, code="55006"):
    """SQLSTATE 55006: object_in_use."""


class CantChangeRuntimeParamError(OperationalError, code="55P02"):
    """SQLSTATE 55P02: cant_change_runtime_param."""


class LockNotAvailableError(OperationalError, code="55P03"):
    """SQLSTATE 55P03: lock_not_available."""


class UnsafeNewEnumValueUsageError(OperationalError, code="55P04"):
    """SQLSTATE 55P04: unsafe_new_enum_value_usage."""


# Class 57 - Operator Intervention


class OperatorInterventionError(OperationalError, code="57000"):
    """SQLSTATE 57000: operator_intervention."""


# 57014 query_canceled: QueryCanceledError, in _shared.py (every backend)


class AdminShutdownError(ConnectionLostError, code="57P01"):
    """SQLSTATE 57P01: admin_shutdown."""


class CrashShutdownError(ConnectionLostError, code="57P02"):
    """SQLSTATE 57P02: crash_shutdown."""


class CannotConnectNowError(ConnectionFailureError, code="57P03"):
    """SQLSTATE 57P03: cannot_connect_now."""


class DatabaseDroppedError(ConnectionFailureError, code="57P04"):
    """SQLSTATE 57P04: database_dropped."""


class IdleSessionTimeoutError(ConnectionLostError, code="57P05"):
    """SQLSTATE 57P05: idle_session_timeout."""


# Class 58 - System Error (errors external to PostgreSQL itself)


class PostgresSystemError(OperationalError, code="58000"):
    """SQLSTATE 58000: system_error."""


class PostgresIOError(OperationalError, code="58030"):
    """SQLSTATE 58030: io_error."""


class UndefinedFileError(OperationalError, code="58P01"):
    """SQLSTATE 58P01: undefined_file."""


class DuplicateFileError(OperationalError, code="58P02"):
    """SQLSTATE 58P02: duplicate_file."""


# Class 72 - Snapshot Failure


class SnapshotTooOldError(DatabaseError, code="72000"):
    """SQLSTATE 72000: snapshot_too_old."""


# Class F0 - Configuration File Error


class ConfigFileError(InternalError, code="F0000"):
    """SQLSTATE F0000: config_file_error."""


class LockFileExistsError(InternalError, code="F0001"):
    """SQLSTATE F0001: lock_file_exists."""


# Class HV - Foreign Data Wrapper Error (SQL/MED)


class FDWError(OperationalError, code="HV000"):
    """SQLSTATE HV000: fdw_error."""


class FDWColumnNameNotFoundError(OperationalError, code="HV005"):
    """SQLSTATE HV005: fdw_column_name_not_found."""


class FDWDynamicParameterValueNeededError(OperationalError, code="HV002"):
    """SQLSTATE HV002: fdw_dynamic_parameter_value_needed."""


class FDWFunctionSequenceError(OperationalError, code="HV010"):
    """SQLSTATE HV010: fdw_function_sequence_error."""


class FDWInconsistentDescriptorInformationError(OperationalError, code="HV021"):
    """SQLSTATE HV021: fdw_inconsistent_descriptor_information."""


class FDWInvalidAttributeValueError(OperationalError, code="HV024"):
    """SQLSTATE HV024: fdw_invalid_attribute_value."""


class FDWInvalidColumnNameError(OperationalError, code="HV007"):
    """SQLSTATE HV007: fdw_invalid_column_name."""


class FDWInvalidColumnNumberError(OperationalError, code="HV008"):
    """SQLSTATE HV008: fdw_invalid_column_number."""


class FDWInvalidDataTypeError(OperationalError, code="HV004"):
    """SQLSTATE HV004: fdw_invalid_data_type."""


class FDWInvalidDataTypeDescriptorsError(OperationalError, code="HV006"):
    """SQLSTATE HV006: fdw_invalid_data_type_descriptors."""


class FDWInvalidDescriptorFieldIdentifierError(OperationalError, code="HV091"):
    """SQLSTATE HV091: fdw_invalid_descriptor_field_identifier."""


class FDWInvalidHandleError(OperationalError, code="HV00B"):
    """SQLSTATE HV00B: fdw_invalid_handle."""


class FDWInvalidOptionIndexError(OperationalError, code="HV00C"):
    """SQLSTATE HV00C: fdw_invalid_option_index."""


class FDWInvalidOptionNameError(OperationalError, code="HV00D"):
    """SQLSTATE HV00D: fdw_invalid_option_name."""


class FDWInvalidStringLengthOrBufferLengthError(OperationalError, code="HV090"):
    """SQLSTATE HV090: fdw_invalid_string_length_or_buffer_length."""


class FDWInvalidStringFormatError(OperationalError, code="HV00A"):
    """SQLSTATE HV00A: fdw_invalid_string_format."""


class FDWInvalidUseOfNullPointerError(OperationalError, code="HV009"):
    """SQLSTATE HV009: fdw_invalid_use_of_null_pointer."""


class FDWTooManyHandlesError(OperationalError, code="HV014"):
    """SQLSTATE HV014: fdw_too_many_handles."""


class FDWOutOfMemoryError(OperationalError, code="HV001"):
    """SQLSTATE HV001: fdw_out_of_memory."""


class FDWNoSchemasError(OperationalError, code="HV00P"):
    """SQLSTATE HV00P: fdw_no_schemas."""


class FDWOptionNameNotFoundError(OperationalError, code="HV00J"):
    """SQLSTATE HV00J: fdw_option_name_not_found."""


class FDWReplyHandleError(OperationalError, code="HV00K"):
    """SQLSTATE HV00K: fdw_reply_handle."""


class FDWSchemaNotFoundError(OperationalError, code="HV00Q"):
    """SQLSTATE HV00Q: fdw_schema_not_found."""


class FDWTableNotFoundError(OperationalError, code="HV00R"):
    """SQLSTATE HV00R: fdw_table_not_found."""


class FDWUnableToCreateExecutionError(OperationalError, code="HV00L"):
    """SQLSTATE HV00L: fdw_unable_to_create_execution."""


class FDWUnableToCreateReplyError(OperationalError, code="HV00M"):
    """SQLSTATE HV00M: fdw_unable_to_create_reply."""


class FDWUnableToEstablishConnectionError(OperationalError, code="HV00N"):
    """SQLSTATE HV00N: fdw_unable_to_establish_connection."""


# Class P0 - PL/pgSQL Error


class PLPGSQLError(InternalError, code="P0000"):
    """SQLSTATE P0000: plpgsql_error."""


class RaiseError(InternalError, code="P0001"):
    """SQLSTATE P0001: raise_exception."""


class NoDataFoundError(InternalError, code="P0002"):
    """SQLSTATE P0002: no_data_found."""


class TooManyRowsError(InternalError, code="P0003"):
    """SQLSTATE P0003: too_many_rows."""


class AssertFailureError(InternalError, code="P0004"):
    """SQLSTATE P0004: assert_failure."""


# Class XX - Internal Error


class PostgresInternalError(InternalError, code="XX000"):
    """SQLSTATE XX000: internal_error."""


class DataCorruptedError(InternalError, code="XX001"):
    """SQLSTATE XX001: data_corrupted."""


class IndexCorruptedError(InternalError, code="XX002"):
    """SQLSTATE XX002: index_corrupted."""


# --- END GENERATED CODE ---
